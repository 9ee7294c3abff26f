"""The batched MuJoCo backend: ``mujoco.batch`` stepping with vectorized task logic."""

from scenarios.batch.tasks import TASKS
from scenarios.batch.vector import BatchVectorScenario, unsupported_reason

__all__ = ["TASKS", "BatchVectorScenario", "unsupported_reason"]
