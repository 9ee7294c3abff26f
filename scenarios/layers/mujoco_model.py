"""Access to a MuJoCo scenario's compiled model: find it, name its elements.

Works for Gymnasium MuJoCo sources (``env.unwrapped``) and MaMuJoCo
(``single_agent_env.unwrapped``). Physics is changed through ``mjModel``
fields, never by rewriting XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

from scenarios.errors import UserError

if TYPE_CHECKING:
    from scenarios.scenario import Scenario

_OBJ = {
    "body": mujoco.mjtObj.mjOBJ_BODY,
    "geom": mujoco.mjtObj.mjOBJ_GEOM,
    "joint": mujoco.mjtObj.mjOBJ_JOINT,
    "actuator": mujoco.mjtObj.mjOBJ_ACTUATOR,
}
_COUNT = {"body": "nbody", "geom": "ngeom", "joint": "njnt", "actuator": "nu"}


@dataclass
class MujocoHandle:
    """The model, data and frame skip of one MuJoCo scenario copy."""

    env: Any
    model: mujoco.MjModel
    data: mujoco.MjData
    frame_skip: int

    def names(self, kind: str) -> list[str]:
        """Names of every element of ``kind`` (unnamed ones as ``#index``)."""
        n = getattr(self.model, _COUNT[kind])
        return [mujoco.mj_id2name(self.model, _OBJ[kind], i) or f"#{i}" for i in range(n)]

    def ids(self, kind: str, names: list[str] | None, what: str) -> np.ndarray:
        """Indices of the named elements (all when ``names`` is None); unknown names list the valid ones."""
        valid = self.names(kind)
        if names is None:
            start = 1 if kind == "body" else 0  # body 0 is the world
            return np.arange(start, len(valid))
        missing = [n for n in names if n not in valid]
        if missing:
            shown = [v for v in valid if not v.startswith("#")]
            raise UserError(f"{what}: no {kind} named {', '.join(missing)} in the model (valid: {', '.join(shown)})")
        return np.array([valid.index(n) for n in names])

    def dof_ids(self, joint_names: list[str] | None, what: str) -> np.ndarray:
        """Degrees of freedom of the named joints (a free joint has 6, a ball 3, a hinge 1)."""
        joints = self.ids("joint", joint_names, what)
        out: list[int] = []
        for j in joints:
            start = int(self.model.jnt_dofadr[j])
            width = {0: 6, 1: 3}.get(int(self.model.jnt_type[j]), 1)
            out.extend(range(start, start + width))
        return np.array(out, dtype=int)


def find_mujoco(scenario: Scenario) -> MujocoHandle | None:
    """The MuJoCo handle of a scenario copy, or None for non-MuJoCo sources."""
    src = scenario.source
    inner = getattr(src, "single_agent_env", None) or getattr(src, "env", None)
    env = getattr(inner, "unwrapped", None)
    model = getattr(env, "model", None)
    if not isinstance(model, mujoco.MjModel):
        return None
    return MujocoHandle(env=env, model=model, data=env.data, frame_skip=_substeps(env))


def _substeps(env: Any) -> int:
    """Physics steps per env step: ``frame_skip`` (Gymnasium MuJoCo), ``n_substeps`` (Fetch), or
    the inner robot's ``frame_skip`` (Gymnasium-Robotics mazes: ``point_env``, ``ant_env``)."""
    for owner in (env, getattr(env, "point_env", None), getattr(getattr(env, "ant_env", None), "unwrapped", None)):
        for name in ("frame_skip", "n_substeps"):
            value = getattr(owner, name, None)
            if isinstance(value, (int, np.integer)) and value > 0:
                return int(value)
    return 1


def require_mujoco(scenario: Scenario, layer_type: str) -> MujocoHandle:
    """The MuJoCo handle, or a UserError saying the layer needs a MuJoCo source."""
    handle = find_mujoco(scenario)
    if handle is None:
        raise UserError(f"layer {layer_type} needs a MuJoCo source (mujoco/ or mamujoco/), not {scenario.spec.source}")
    return handle
