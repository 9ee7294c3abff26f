"""Goal-conditioned observations: Gymnasium-Robotics' ``Dict`` with ``observation``,
``achieved_goal`` and ``desired_goal``, and the helpers every face uses for them.

- The vectorized face batches each key: an agent's observation is
  ``{key: (N, *shape)}`` (``batch_rows``, ``put_row``, ``take_row``).
- Layers perturb what is sensed, the ``observation`` key; goals are not sensed
  (``scenarios.layers.stack`` routes each observation layer to that key).
- A learner that needs a flat vector gets one from ``flatten`` (or the
  ``goal_flatten`` layer, which makes the scenario's observation that vector):
  the keys concatenated in the Dict space's own order, which is what
  ``gymnasium.spaces.flatten`` does for one observation (``achieved_goal``,
  ``desired_goal``, ``observation``: Gymnasium sorts a Dict's keys).
- ``Scenario.compute_reward(achieved_goal, desired_goal, info)`` is the
  source's reward function, batched, for hindsight relabelling.
- ``success_flag(info)``: the source's ``is_success`` (Fetch, Shadow hand) or
  ``success`` (mazes, Adroit) as a bool, None when it reports neither.

>>> import numpy as np
>>> from gymnasium import spaces
>>> box = lambda n: spaces.Box(-1.0, 1.0, (n,), np.float32)
>>> space = spaces.Dict({"observation": box(3), "achieved_goal": box(2), "desired_goal": box(2)})
>>> is_goal_space(space), flatten_space(space).shape
(True, (7,))
>>> flatten(space, {k: np.ones((4, *s.shape)) for k, s in space.spaces.items()}).shape
(4, 7)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


_ARRAYS = (spaces.Box, spaces.MultiBinary, spaces.MultiDiscrete)


def is_goal_space(space: spaces.Space) -> bool:
    """Whether ``space`` is a goal-conditioned Dict: it has the three keys, each an array space
    (Box, or MultiBinary/MultiDiscrete as in SB3's bit-flipping task)."""
    return isinstance(space, spaces.Dict) and all(isinstance(space.spaces.get(k), _ARRAYS) for k in GOAL_KEYS)


def flatten_space(space: spaces.Dict) -> spaces.Box:
    """The flat Box of a goal-conditioned Dict: ``gymnasium.spaces.flatten_space`` (keys in the Dict's order)."""
    return spaces.flatten_space(space)


def flatten(space: spaces.Dict, obs: dict[str, np.ndarray]) -> np.ndarray:
    """Batched goal observations ``{key: (N, *shape)}`` as ``(N, d)`` rows (a single
    observation ``{key: shape}`` as ``(d,)``), keys in the Dict's order."""
    first = next(iter(space.spaces))
    single = np.ndim(obs[first]) == len(space.spaces[first].shape)
    parts = [np.asarray(obs[k]).reshape(-1) if single else np.asarray(obs[k]).reshape(len(obs[k]), -1)
             for k in space.spaces]
    return np.concatenate(parts, axis=-1).astype(flatten_space(space).dtype, copy=False)


def batch_rows(space: spaces.Space, n: int) -> Any:
    """A zeroed batch of ``n`` observations of ``space``: an array, or a dict of arrays per key."""
    if isinstance(space, spaces.Dict):
        return {k: batch_rows(s, n) for k, s in space.spaces.items()}
    return np.zeros((n, *space.shape), dtype=space.dtype)


def put_row(batch: Any, i: int, value: Any) -> None:
    """Write one copy's observation into row ``i`` of a batch (each key for a dict)."""
    if isinstance(batch, dict):
        for k, b in batch.items():
            put_row(b, i, value[k])
    else:
        batch[i] = value


def take_row(batch: Any, i: int) -> Any:
    """A copy of row ``i`` of a batch (a dict of rows for a dict batch)."""
    if isinstance(batch, dict):
        return {k: take_row(b, i) for k, b in batch.items()}
    return batch[i].copy()


def copy_batch(batch: Any) -> Any:
    """A copy of a batch (each key for a dict)."""
    if isinstance(batch, dict):
        return {k: copy_batch(b) for k, b in batch.items()}
    return batch.copy()


def batch_size(batch: Any) -> int:
    """Rows in a batch (the first key's for a dict)."""
    while isinstance(batch, dict):
        batch = next(iter(batch.values()))
    return len(batch)


def success_flag(info: dict[str, Any]) -> bool | None:
    """The source's success flag in one agent's step info (``is_success``, else ``success``), or None."""
    for key in ("is_success", "success"):
        if key in info:
            return bool(np.asarray(info[key]).item())
    return None


def episode_success(infos: dict[str, dict[str, Any]]) -> bool | None:
    """An episode's success from its last step's per-agent infos: True when every agent that
    reports a flag succeeded, None when none reports one."""
    flags = [f for f in (success_flag(i) for i in infos.values()) if f is not None]
    return None if not flags else all(flags)
