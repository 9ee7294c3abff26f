"""The batched backends: MuJoCo tasks on ``mujoco.batch`` and mpe2's particle worlds as arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scenarios.batch.tasks import TASKS
from scenarios.batch.vector import BatchVectorScenario, unsupported_reason
from scenarios.spec import LayerSpec, ScenarioSpec

__all__ = ["TASKS", "BatchVectorScenario", "unsupported_reason", "batch_unsupported", "make_batch"]


def batch_unsupported(spec: ScenarioSpec) -> str | None:
    """Why no batched backend runs ``spec`` (None when one does): the MuJoCo one, or the particle one for mpe2."""
    from scenarios.batch.particle_vector import particle_unsupported
    from scenarios.batch.mpe_tasks import scenario_name

    if scenario_name(spec.source) is not None:
        return particle_unsupported(spec)
    return unsupported_reason(spec)


def make_batch(spec: ScenarioSpec, num_envs: int, seed: int | None = None, autoreset: bool = True,
               copy_layers: Sequence[Sequence[LayerSpec]] | None = None) -> Any:
    """The batched vectorized face for ``spec``: particle worlds for mpe2 sources, ``mujoco.batch`` otherwise."""
    from scenarios.batch.mpe_tasks import scenario_name

    if scenario_name(spec.source) is not None:
        from scenarios.batch.particle_vector import ParticleVectorScenario

        return ParticleVectorScenario(spec, num_envs, seed=seed, autoreset=autoreset, copy_layers=copy_layers)
    return BatchVectorScenario(spec, num_envs, seed=seed, autoreset=autoreset, copy_layers=copy_layers)
