"""Lean native steps for Gymnasium's MuJoCo v5 tasks, bit-identical to ``env.step``.

Gymnasium's MuJoCo ``step`` spends about as long in Python (array copies in
``_get_obs``, ``np.sum`` dispatch, property look-ups, ``do_simulation``'s
checks) as HalfCheetah spends in physics. A scenario's layers add a few
microseconds a step, so that Python time decides whether a perturbed scenario
keeps up with the bare env. For the tasks below the scenario therefore steps
the env's own ``model``/``data`` here, with the same MuJoCo calls in the same
order and the same floating-point expressions, and returns the same
observation, reward, termination and info (``tests/test_native_step.py``
checks every value over thousands of steps, resets, perturbed models and
custom kwargs). Resets, rendering and every other task still go through
Gymnasium, and ``render_mode="human"`` keeps Gymnasium's step.

No library offers this (Gymnasium's step is the reference, and
``mujoco.rollout`` has no task logic), hence our own. Each step reads its
parameters from the env built with the spec's kwargs, so kwargs keep their
meaning; ``dt`` is read live because ``opt.timestep`` may be changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[Any], tuple[np.ndarray, Any, bool, bool, dict[str, Any]]]


def _checked(env: Any) -> Callable[[Any], np.ndarray]:
    """Gymnasium's ``do_simulation`` shape check, as an action converter."""
    nu = env.model.nu

    def check(action: Any) -> np.ndarray:
        a = np.asarray(action)
        if a.shape != (nu,):
            raise ValueError(f"Action dimension mismatch. Expected {(nu,)}, found {a.shape}")
        return a

    return check


def _simulate(env: Any) -> Callable[[np.ndarray], None]:
    """``_step_mujoco_simulation``: ctrl, ``frame_skip`` substeps, then ``mj_rnePostConstraint``."""
    import mujoco  # here, so non-MuJoCo sources never import it

    model, data, n = env.model, env.data, env.frame_skip
    ctrl, mj_step, rne = data.ctrl, mujoco.mj_step, mujoco.mj_rnePostConstraint

    def simulate(a: np.ndarray) -> None:
        ctrl[:] = a
        mj_step(model, data, nstep=n)
        rne(model, data)

    return simulate


def _planar_runner(env: Any, healthy: Callable[[], bool] | None) -> Step:
    """HalfCheetah, Hopper and Walker2d: forward progress of qpos[0], control cost, optional health."""
    check, simulate = _checked(env), _simulate(env)
    model, data, n = env.model, env.data, env.frame_skip
    qpos, qvel = data.qpos, data.qvel
    skip = 1 if env._exclude_current_positions_from_observation else 0
    w_fwd, w_ctrl = env._forward_reward_weight, env._ctrl_cost_weight
    clip_vel = healthy is not None  # Hopper and Walker2d clip velocities in the observation
    w_alive = getattr(env, "_healthy_reward", 0.0)
    terminate = getattr(env, "_terminate_when_unhealthy", False)
    z0 = env.init_qpos[1]
    cat, square, clip = np.concatenate, np.square, np.clip

    def step(action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        a = check(action)
        x_before = qpos[0]
        simulate(a)
        x_after = qpos[0]
        x_velocity = (x_after - x_before) / (model.opt.timestep * n)
        vel = clip(qvel, -10, 10) if clip_vel else qvel
        obs = cat((qpos[skip:], vel))
        forward = w_fwd * x_velocity
        ctrl_cost = w_ctrl * square(a).sum()
        if healthy is None:
            return obs, forward - ctrl_cost, False, False, {
                "x_position": x_after, "x_velocity": x_velocity,
                "reward_forward": forward, "reward_ctrl": -ctrl_cost}
        is_healthy = healthy()
        alive = is_healthy * w_alive
        info = {"x_position": x_after, "z_distance_from_origin": qpos[1] - z0, "x_velocity": x_velocity,
                "reward_forward": forward, "reward_ctrl": -ctrl_cost, "reward_survive": alive}
        return obs, forward + alive - ctrl_cost, (not is_healthy) and terminate, False, info

    return step


def _hopper_health(env: Any) -> Callable[[], bool]:
    qpos, qvel = env.data.qpos, env.data.qvel
    (min_s, max_s), (min_z, max_z) = env._healthy_state_range, env._healthy_z_range
    min_angle, max_angle = env._healthy_angle_range
    cat, logical_and = np.concatenate, np.logical_and

    def healthy() -> bool:
        z, angle = qpos[1:3]
        state = cat((qpos, qvel))[2:]
        return all((logical_and(min_s < state, state < max_s).all(), min_z < z < max_z, min_angle < angle < max_angle))

    return healthy


def _walker_health(env: Any) -> Callable[[], bool]:
    qpos = env.data.qpos
    (min_z, max_z), (min_angle, max_angle) = env._healthy_z_range, env._healthy_angle_range

    def healthy() -> bool:  # NumPy's bool, as Gymnasium's (so reward_survive keeps its type)
        z, angle = qpos[1:3]
        return min_z < z < max_z and min_angle < angle < max_angle

    return healthy


def _inverted_pendulum(env: Any) -> Step:
    check, simulate = _checked(env), _simulate(env)
    qpos, qvel = env.data.qpos, env.data.qvel
    cat, isfinite = np.concatenate, np.isfinite

    def step(action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        simulate(check(action))
        obs = cat((qpos, qvel))
        terminated = bool(not isfinite(obs).all() or abs(obs[1]) > 0.2)
        reward = int(not terminated)
        return obs, reward, terminated, False, {"reward_survive": reward}

    return step


def native_step(env: Any) -> Step | None:
    """A lean step for ``env`` (a Gymnasium env's ``.unwrapped``), or None where there is none.

    Covered: ``HalfCheetah-v5``, ``Hopper-v5``, ``Walker2d-v5``,
    ``InvertedPendulum-v5`` (exact classes only, not subclasses), unless the
    env renders to a window.
    """
    if getattr(env, "render_mode", None) == "human":
        return None
    kind = type(env)
    where = f"{kind.__module__}.{kind.__qualname__}"  # exact classes: a subclass may change the task
    if where == "gymnasium.envs.mujoco.half_cheetah_v5.HalfCheetahEnv":
        return _planar_runner(env, None)
    if where == "gymnasium.envs.mujoco.hopper_v5.HopperEnv":
        return _planar_runner(env, _hopper_health(env))
    if where == "gymnasium.envs.mujoco.walker2d_v5.Walker2dEnv":
        return _planar_runner(env, _walker_health(env))
    if where == "gymnasium.envs.mujoco.inverted_pendulum_v5.InvertedPendulumEnv":
        return _inverted_pendulum(env)
    return None
