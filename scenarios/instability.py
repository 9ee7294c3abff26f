"""Whether a MuJoCo simulation went unstable during an episode.

When accelerations, velocities or positions become NaN, infinite or huge (a gravity of 1e30,
a mass of 1e-30, a layer value far outside the physical range), MuJoCo prints a warning, resets
the simulation's state to the model's initial one and carries on, so the episode goes on from a
state the policy never caused and its return is not a measurement. Both vectorized faces
report it in the episode summary (``unstable``: True or False for MuJoCo sources, None for the
rest) and the harness stores it on every episode record:

- the per-copy face counts MuJoCo's own instability warnings (``mjWARN_BADQPOS``,
  ``mjWARN_BADQVEL``, ``mjWARN_BADQACC``) between the episode's reset and its end;
- the batched face, whose simulations keep no warnings, sees the reset itself: a step that
  advanced the simulation's clock by less than its ``frame_skip`` physics steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def simulation(scenario: Any) -> Any:
    """The ``MjData`` of ``scenario``'s simulation, which its env keeps across resets (None: not a
    MuJoCo source); ``warning_count`` reads it."""
    from scenarios.layers.mujoco_model import find_mujoco

    handle = find_mujoco(scenario)
    return None if handle is None else handle.data


def warning_count(data: Any) -> int:
    """MuJoCo's instability warnings so far in a simulation's ``MjData``."""
    import mujoco

    w = mujoco.mjtWarning
    return sum(int(data.warning[k].number) for k in (w.mjWARN_BADQPOS, w.mjWARN_BADQVEL, w.mjWARN_BADQACC))


def clock_reset(before: np.ndarray, after: np.ndarray, frame_skip: int, timestep: float) -> np.ndarray:
    """Per simulation: the step moved the clock by less than ``frame_skip`` physics steps (MuJoCo
    reset the state mid-step, which sets the time back to zero)."""
    return after - before < (frame_skip - 0.5) * timestep
