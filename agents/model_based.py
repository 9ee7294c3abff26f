"""What the learned-model agents (``pets``, ``mbpo``, ``mbve``, ``i2a``) share: the dynamics
model's hyperparameters, building it, refitting it on the agent's real data and logging the
fit, and reading and writing the model and data with a checkpoint.

The model learns from the agent's own real transitions the next-observation delta, the reward
and the termination probability, so the agents work where the simulator is unknown or wrong.
With ``termination: known`` (``resolve_termination``) the agent replaces the learned
termination by the task's own function of the observations (``scenarios.termination``), as
mbrl-lib's PETS results do; ``reward: known`` (``resolve_reward``) likewise replaces the learned
reward where the observation and action determine it (Reacher, Pusher, Pendulum, the +1-alive
tasks), as the PETS paper's code plans with each task's cost function. A model fitted in one
world can be evaluated in another (``testbed.evaluate`` on a perturbed scenario), which measures
what model error under perturbation costs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from agents.dynamics_model import DynamicsModel
from agents.transitions import Transitions
from scenarios import Scenario, UserError
from scenarios.termination import TransitionFn, reward_function, termination_function

MODEL_DEFAULTS: dict[str, Any] = {
    "ensemble_size": 5, "model_arch": [200, 200, 200], "model_lr": 1e-3, "model_weight_decay": 5e-5,
    "model_batch_size": 256, "model_updates": 500, "holdout": 0.1, "error_horizon": 10,
}
"""The dynamics model's hyperparameters (``agents/fields.yaml`` documents each)."""


def resolve_termination(agent: str, scenario: Scenario, choice: str | None) -> TransitionFn | None:
    """The known termination function for ``termination: choice`` (``known``, ``learned``, or
    ``None``: known where ``scenario`` has one), or ``None`` to use the learned head; ``known`` on
    a scenario without one is refused."""
    return _resolve(agent, scenario, "termination", choice, termination_function)


def resolve_reward(agent: str, scenario: Scenario, choice: str | None) -> TransitionFn | None:
    """The known reward function for ``reward: choice`` (as ``resolve_termination``), or ``None``
    to use the model's learned reward."""
    return _resolve(agent, scenario, "reward", choice, reward_function)


def _resolve(agent: str, scenario: Scenario, field: str, choice: str | None,
             known: Callable[[Scenario], TransitionFn | None]) -> TransitionFn | None:
    if choice not in (None, "known", "learned"):
        raise UserError(f"{agent}: {field} must be known or learned, got {choice!r}")
    fn = None if choice == "learned" else known(scenario)
    if choice == "known" and fn is None:
        raise UserError(f"{agent}: {field}: known, but {scenario.id} has no known {field} function "
                        "(scenarios.termination: unlisted task, or layers change what it depends on); use learned")
    return fn


def known(fn: TransitionFn, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """A known function of model transitions (``scenarios.termination``'s termination, 0/1, or
    reward; numpy inside) as a float tensor of the learned head's shape."""
    out = fn(obs.detach().numpy(), actions.detach().numpy(), next_obs.detach().numpy())
    return torch.as_tensor(np.asarray(out), dtype=torch.float32)


def action_dim(space: spaces.Space) -> int:
    """Columns an action takes in the model's input: a Box's size, or a Discrete's one-hot width."""
    return int(space.n) if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))


def build_model(h: dict[str, Any], obs_dim: int, act_dim: int, seed: int) -> DynamicsModel:
    """The ensemble configured by hyperparameters ``h``."""
    return DynamicsModel(obs_dim, act_dim, members=h["ensemble_size"], hidden=list(h["model_arch"]),
                         learning_rate=h["model_lr"], weight_decay=h["model_weight_decay"],
                         batch_size=h["model_batch_size"], holdout=h["holdout"],
                         horizon=h["error_horizon"], seed=seed)


def fit_and_log(model: DynamicsModel, data: Transitions, updates: int, rng: np.random.Generator,
                history: list[dict[str, float]], steps: int) -> dict[str, float]:
    """Refit ``model`` on ``data`` and append the fit's losses and held-out errors to ``history``."""
    row = {"steps": float(steps), **model.fit(data, updates, rng)}
    history.append(row)
    return row


def save_model(path: Path, model: DynamicsModel, data: Transitions, extra: dict[str, Any] | None = None) -> None:
    """Write ``model.pt`` (state dicts: ensemble, normalizers, optimizer, and ``extra``) and ``data.npz``."""
    torch.save({"model": model.state_dict(), **(extra or {})}, path / "model.pt")
    data.save(path / "data.npz")


def load_model(path: Path, model: DynamicsModel) -> tuple[Transitions, dict[str, Any]]:
    """Restore ``save_model``'s files into ``model``; returns the data and the extra state dicts."""
    state = torch.load(path / "model.pt", weights_only=True)
    model.load_state_dict(state.pop("model"))
    return Transitions.load(path / "data.npz"), state
