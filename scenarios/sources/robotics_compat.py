"""Gymnasium-Robotics' Fetch (and Shadow-hand) tasks on MuJoCo 4: a narrow compatibility shim.

The problem: ``gymnasium_robotics.utils.mujoco_utils`` (1.4.2, the newest
release) checks a joint's type with::

    joint_type = model.jnt_type[joint_id]            # a numpy.int32
    ...
    assert joint_type in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)

in ``get_joint_qpos``, ``get_joint_qvel``, ``set_joint_qpos`` and
``set_joint_qvel``. MuJoCo 4 (and 3.12) bundles pybind11 3.1, whose enums
compare asymmetrically with numpy integers: ``np.int32(3) == mjJNT_HINGE`` is
True but ``mjJNT_HINGE == np.int32(3)`` is False, and tuple membership compares
from the element's side, so the assertion fails for every hinge and slide
joint. Fetch sets its arm's slide joints while building (``_env_setup``) and
reads every ``robot*`` joint in each observation (``robot_get_obs``), so every
Fetch task fails before its first reset. Maze and Adroit tasks do not use
these helpers and are unaffected.

The fix stands in for those four helpers and ``robot_get_obs`` (which calls
them by module name), and for nothing else: a hinge or slide joint is
recognized with native ints (``int(joint_type)``), reading or writing its one
``qpos``/``qvel`` entry exactly as upstream does; every other joint type goes
to the upstream helper unchanged. The shim is a namespace over the upstream
module; the env gets it as its own ``_utils`` (``MujocoRobotEnv.__init__``
assigns ``self._utils = mujoco_utils``, read from ``robot_env``'s module
globals) because the name is swapped only while our source adapter builds the
env, under a lock. The upstream module itself is never changed, so other code
in the process sees it as shipped. When MuJoCo's enums compare symmetrically
again (``needed()`` is False) nothing is swapped.

Upstream: Gymnasium-Robotics has no released fix (1.4.2); MuJoCo Warp and
other projects fixed the same comparison by converting to ``int`` first.
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Iterator
from typing import Any

import mujoco
import numpy as np

_LOCK = threading.Lock()
_SCALAR = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


def needed() -> bool:
    """Whether this MuJoCo's joint enums fail Gymnasium-Robotics' ``joint_type in (HINGE, SLIDE)`` check."""
    return np.int32(mujoco.mjtJoint.mjJNT_HINGE) not in (mujoco.mjtJoint.mjJNT_HINGE,)


def _scalar_joint(model: mujoco.MjModel, name: str) -> int | None:
    """The joint id of ``name`` if it is a hinge or slide joint (one qpos, one dof), else None."""
    jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if jid != -1 and int(model.jnt_type[jid]) in _SCALAR:
        return jid
    return None


def _shim(upstream: types.ModuleType) -> types.SimpleNamespace:
    """A namespace with every attribute of ``upstream`` and the five joint helpers fixed."""

    def get_joint_qpos(model: mujoco.MjModel, data: mujoco.MjData, name: str) -> np.ndarray:
        """Upstream ``get_joint_qpos``, with hinge/slide joints recognized."""
        jid = _scalar_joint(model, name)
        if jid is None:
            return upstream.get_joint_qpos(model, data, name)
        adr = int(model.jnt_qposadr[jid])
        return data.qpos[adr : adr + 1].copy()

    def get_joint_qvel(model: mujoco.MjModel, data: mujoco.MjData, name: str) -> np.ndarray:
        """Upstream ``get_joint_qvel``, with hinge/slide joints recognized."""
        jid = _scalar_joint(model, name)
        if jid is None:
            return upstream.get_joint_qvel(model, data, name)
        adr = int(model.jnt_dofadr[jid])
        return data.qvel[adr : adr + 1].copy()

    def set_joint_qpos(model: mujoco.MjModel, data: mujoco.MjData, name: str, value: Any) -> None:
        """Upstream ``set_joint_qpos``, with hinge/slide joints recognized."""
        jid = _scalar_joint(model, name)
        if jid is None:
            upstream.set_joint_qpos(model, data, name, value)
            return
        adr = int(model.jnt_qposadr[jid])
        data.qpos[adr : adr + 1] = np.array(value)

    def set_joint_qvel(model: mujoco.MjModel, data: mujoco.MjData, name: str, value: Any) -> None:
        """Upstream ``set_joint_qvel``, with hinge/slide joints recognized."""
        jid = _scalar_joint(model, name)
        if jid is None:
            upstream.set_joint_qvel(model, data, name, value)
            return
        adr = int(model.jnt_dofadr[jid])
        data.qvel[adr : adr + 1] = np.array(value)

    def robot_get_obs(model: mujoco.MjModel, data: mujoco.MjData, joint_names: Any) -> tuple[np.ndarray, np.ndarray]:
        """Upstream ``robot_get_obs`` calling the fixed getters."""
        if data.qpos is not None and joint_names:
            names = [n for n in joint_names if n.startswith("robot")]
            return (
                np.squeeze(np.array([get_joint_qpos(model, data, n) for n in names])),
                np.squeeze(np.array([get_joint_qvel(model, data, n) for n in names])),
            )
        return np.zeros(0), np.zeros(0)

    attrs = {k: v for k, v in vars(upstream).items() if not k.startswith("__")}
    fixed = dict(get_joint_qpos=get_joint_qpos, get_joint_qvel=get_joint_qvel, set_joint_qpos=set_joint_qpos,
                 set_joint_qvel=set_joint_qvel, robot_get_obs=robot_get_obs)
    return types.SimpleNamespace(**{**attrs, **fixed, "__name__": f"{__name__}.shim"})


@contextlib.contextmanager
def fetch_on_mujoco4(env_id: str) -> Iterator[None]:
    """While building ``env_id``: Gymnasium-Robotics robot envs built now get the fixed joint helpers.

    Does nothing for ids that are not Gymnasium-Robotics robot envs, or when MuJoCo's enums
    compare correctly (``needed()`` is False).
    """
    import gymnasium as gym

    entry = str(getattr(gym.registry.get(env_id), "entry_point", ""))
    robot = entry.startswith(("gymnasium_robotics.envs.fetch.", "gymnasium_robotics.envs.shadow_dexterous_hand."))
    if not robot or not needed():
        yield
        return
    from gymnasium_robotics.envs import robot_env

    with _LOCK:
        upstream = robot_env.mujoco_utils
        robot_env.mujoco_utils = _shim(upstream)
        try:
            yield
        finally:
            robot_env.mujoco_utils = upstream
