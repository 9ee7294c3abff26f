"""Training and evaluation scalars: TensorBoard by default, Weights & Biases beside it on request.

``ScalarLog`` is the one writer a job logs through (``add_scalar(key, value,
step)``); it fans out to TensorBoard's ``SummaryWriter`` (when tensorboard is
installed) and, with ``wandb`` settings (``testbed run --wandb``), to one W&B
run per job, named after it, with the job's agent, scenario, seed and
hyperparameters as its config. W&B is told to plot every key against our own
step counter (``define_metric``), so keys logged out of step order (the
learner's history after its throughput) are kept, not dropped. ``mode:
offline`` (or ``WANDB_MODE=offline``) writes the run locally for a later
``wandb sync``. W&B comes with the ``wandb`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios import UserError

STEP = "testbed/step"


def wandb_module() -> Any:
    """The wandb package, or one UserError line naming the extra."""
    try:
        import wandb
    except ImportError:
        raise UserError("--wandb needs Weights & Biases, the wandb extra: pip install 'testbed[wandb]'") from None
    return wandb


class ScalarLog:
    """One job's scalars to TensorBoard (``folder``) and, with ``wandb`` settings, to a W&B run."""

    def __init__(self, folder: Path, name: str, config: dict[str, Any], wandb: dict[str, Any] | None = None) -> None:
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard not installed: checkpoints and results still work
            pass
        else:
            folder.mkdir(parents=True, exist_ok=True)
            self.tb = SummaryWriter(str(folder))
        self.run = None
        if wandb is not None:
            wb = wandb_module()
            folder.mkdir(parents=True, exist_ok=True)
            self.run = wb.init(project=wandb.get("project") or "testbed", name=name, config=config, dir=str(folder),
                               mode=wandb.get("mode"), reinit="create_new")
            self.run.define_metric(STEP)
            self.run.define_metric("*", step_metric=STEP)

    def add_scalar(self, key: str, value: float, step: int) -> None:
        """Log ``value`` under ``key`` at ``step`` to every backend."""
        if self.tb is not None:
            self.tb.add_scalar(key, value, step)
        if self.run is not None:
            self.run.log({key: value, STEP: step})

    def close(self) -> None:
        """Flush and close every backend."""
        if self.tb is not None:
            self.tb.close()
        if self.run is not None:
            self.run.finish()
