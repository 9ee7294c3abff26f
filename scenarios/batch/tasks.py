"""Gymnasium's MuJoCo v5 task logic, vectorized over N simulations in NumPy.

Each task reproduces its Gymnasium v5 env exactly (observations, rewards,
terminations, reset distributions and their random draws) from the batched
state: ``qpos``/``qvel`` rows and derived fields that, as after ``mj_step``,
describe the state before the last substep. Parameters (reward weights, healthy
ranges, noise scales...) are read from a Gymnasium env built with the same
kwargs, so a spec's kwargs keep their meaning. Parity with Gymnasium is a test
(``tests/test_batch_backend.py``), not a hope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np


@dataclass
class Fields:
    """The batched arrays a task reads: state rows and bound derived fields, (N, ...)."""

    qpos: np.ndarray
    qvel: np.ndarray
    xpos: np.ndarray | None = None
    site_xpos: np.ndarray | None = None
    qfrc_constraint: np.ndarray | None = None
    cfrc_ext: np.ndarray | None = None
    xipos: np.ndarray | None = None
    cinert: np.ndarray | None = None
    cvel: np.ndarray | None = None
    qfrc_actuator: np.ndarray | None = None
    body_mass: np.ndarray | None = None
    """Each simulation's body masses, (N, nbody): the model's, or the per-simulation values a dynamics layer wrote."""


@dataclass
class Task:
    """One task: which derived fields it reads and its vectorized logic."""

    name: str
    outputs: tuple[str, ...]
    obs: Callable[[Any, Fields], np.ndarray]
    before: Callable[[Any, Fields], np.ndarray | None]
    reward: Callable[[Any, Fields, Any, np.ndarray], tuple[np.ndarray, np.ndarray]]
    reset: Callable[[Any, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    needs_rne: bool = False
    zero_at_reset: tuple[str, ...] = field(default_factory=tuple)


def _ctrl(p: Any, action: np.ndarray, dtype: Any = None) -> np.ndarray:
    """The control cost of the action's squares (``dtype``: square in it, as Humanoid and HumanoidStandup
    square ``data.ctrl``, float64, where a policy's float32 action rounds differently by ~1e-8)."""
    return p._ctrl_cost_weight * np.square(action, dtype=dtype).sum(axis=1)  # the method: np.sum's dispatch costs ~1 us at N=1


def _uniform_reset(p: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = p._reset_noise_scale
    qpos = p.init_qpos + rng.uniform(low=-s, high=s, size=p.model.nq)
    qvel = p.init_qvel + rng.uniform(low=-s, high=s, size=p.model.nv)
    return qpos, qvel


def _normal_vel_reset(p: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = p._reset_noise_scale
    qpos = p.init_qpos + rng.uniform(low=-s, high=s, size=p.model.nq)
    qvel = p.init_qvel + s * rng.standard_normal(p.model.nv)
    return qpos, qvel


def _x_before(p: Any, f: Fields) -> np.ndarray:
    return f.qpos[:, 0].copy()


def _x_velocity(p: Any, f: Fields, before: np.ndarray) -> np.ndarray:
    return (f.qpos[:, 0] - before) / p.dt


def _positions(p: Any, f: Fields, skip: int) -> np.ndarray:
    return f.qpos[:, skip:] if p._exclude_current_positions_from_observation else f.qpos


# --- InvertedPendulum -------------------------------------------------------
def _ip_obs(p: Any, f: Fields) -> np.ndarray:
    return np.concatenate([f.qpos, f.qvel], axis=1)


def _ip_reward(p: Any, f: Fields, before: Any, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ob = _ip_obs(p, f)
    terminated = ~np.isfinite(ob).all(axis=1) | (np.abs(ob[:, 1]) > 0.2)
    return (~terminated).astype(np.float64), terminated


# --- InvertedDoublePendulum -------------------------------------------------
def _idp_obs(p: Any, f: Fields) -> np.ndarray:
    return np.concatenate([
        f.qpos[:, :1], np.sin(f.qpos[:, 1:]), np.cos(f.qpos[:, 1:]),
        np.clip(f.qvel, -10, 10), np.clip(f.qfrc_constraint, -10, 10)[:, :1],
    ], axis=1)


def _idp_reward(p: Any, f: Fields, before: Any, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = f.site_xpos[:, 0, 0], f.site_xpos[:, 0, 2]
    terminated = y <= 1
    v1, v2 = f.qvel[:, 1], f.qvel[:, 2]
    dist_penalty = 0.01 * x**2 + (y - 2) ** 2
    vel_penalty = 1e-3 * v1**2 + 5e-3 * v2**2
    alive = p._healthy_reward * (~terminated)
    return alive - dist_penalty - vel_penalty, terminated


def _idp_reset(p: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = p._reset_noise_scale
    qpos = p.init_qpos + rng.uniform(low=-s, high=s, size=p.model.nq)
    qvel = p.init_qvel + rng.standard_normal(p.model.nv) * s
    return qpos, qvel


# --- Reacher ----------------------------------------------------------------
def _reacher_vec(p: Any, f: Fields) -> np.ndarray:
    return f.xpos[:, p._tip] - f.xpos[:, p._target]


def _reacher_obs(p: Any, f: Fields) -> np.ndarray:
    theta = f.qpos[:, :2]
    return np.concatenate([np.cos(theta), np.sin(theta), f.qpos[:, 2:], f.qvel[:, :2], _reacher_vec(p, f)[:, :2]], axis=1)


def _reacher_reward(p: Any, f: Fields, before: Any, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dist = -np.linalg.norm(_reacher_vec(p, f), axis=1) * p._reward_dist_weight
    ctrl = -np.square(action).sum(axis=1) * p._reward_control_weight
    return dist + ctrl, np.zeros(len(dist), bool)


def _reacher_reset(p: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    qpos = rng.uniform(low=-0.1, high=0.1, size=p.model.nq) + p.init_qpos
    while True:
        goal = rng.uniform(low=-0.2, high=0.2, size=2)
        if np.linalg.norm(goal) < 0.2:
            break
    qpos[-2:] = goal
    qvel = p.init_qvel + rng.uniform(low=-0.005, high=0.005, size=p.model.nv)
    qvel[-2:] = 0
    return qpos, qvel


# --- Swimmer ----------------------------------------------------------------
def _swimmer_obs(p: Any, f: Fields) -> np.ndarray:
    return np.concatenate([_positions(p, f, 2), f.qvel], axis=1)


def _swimmer_before(p: Any, f: Fields) -> np.ndarray:
    return f.qpos[:, 0:2].copy()


def _swimmer_reward(p: Any, f: Fields, before: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x_velocity = (f.qpos[:, 0] - before[:, 0]) / p.dt
    return p._forward_reward_weight * x_velocity - _ctrl(p, action), np.zeros(len(x_velocity), bool)


# --- Hopper / Walker2d ------------------------------------------------------
def _clipped_obs(p: Any, f: Fields) -> np.ndarray:
    return np.concatenate([_positions(p, f, 1), np.clip(f.qvel, -10, 10)], axis=1)


def _hopper_healthy(p: Any, f: Fields) -> np.ndarray:
    z, angle = f.qpos[:, 1], f.qpos[:, 2]
    state = np.concatenate([f.qpos, f.qvel], axis=1)[:, 2:]
    lo, hi = p._healthy_state_range
    ok_state = ((lo < state) & (state < hi)).all(axis=1)
    return ok_state & (p._healthy_z_range[0] < z) & (z < p._healthy_z_range[1]) & \
        (p._healthy_angle_range[0] < angle) & (angle < p._healthy_angle_range[1])


def _walker_healthy(p: Any, f: Fields) -> np.ndarray:
    z, angle = f.qpos[:, 1], f.qpos[:, 2]
    return (p._healthy_z_range[0] < z) & (z < p._healthy_z_range[1]) & \
        (p._healthy_angle_range[0] < angle) & (angle < p._healthy_angle_range[1])


def _legged_reward(healthy_fn: Callable[[Any, Fields], np.ndarray]) -> Callable:
    def reward(p: Any, f: Fields, before: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        healthy = healthy_fn(p, f)
        forward = p._forward_reward_weight * _x_velocity(p, f, before)
        r = forward + healthy * p._healthy_reward - _ctrl(p, action)
        return r, (~healthy) & bool(p._terminate_when_unhealthy)

    return reward


# --- HalfCheetah ------------------------------------------------------------
def _cheetah_obs(p: Any, f: Fields) -> np.ndarray:
    return np.concatenate([_positions(p, f, 1), f.qvel], axis=1)


def _cheetah_reward(p: Any, f: Fields, before: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = p._forward_reward_weight * _x_velocity(p, f, before) - _ctrl(p, action)
    return r, np.zeros(len(r), bool)


# --- Ant ----------------------------------------------------------------------
def _ant_contacts(p: Any, f: Fields) -> np.ndarray:
    lo, hi = p._contact_force_range
    return np.clip(f.cfrc_ext, lo, hi)


def _ant_obs(p: Any, f: Fields) -> np.ndarray:
    parts = [_positions(p, f, 2), f.qvel]
    if p._include_cfrc_ext_in_observation:
        parts.append(_ant_contacts(p, f)[:, 1:].reshape(len(f.qpos), -1))
    return np.concatenate(parts, axis=1)


def _ant_before(p: Any, f: Fields) -> np.ndarray:
    return f.xpos[:, p._main_body_id, :2].copy()


def _ant_reward(p: Any, f: Fields, before: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x_velocity = (f.xpos[:, p._main_body_id, 0] - before[:, 0]) / p.dt
    state = np.concatenate([f.qpos, f.qvel], axis=1)
    lo, hi = p._healthy_z_range
    healthy = np.isfinite(state).all(axis=1) & (lo <= state[:, 2]) & (state[:, 2] <= hi)
    contact = p._contact_cost_weight * np.square(_ant_contacts(p, f)).reshape(len(state), -1).sum(axis=1)
    r = x_velocity * p._forward_reward_weight + healthy * p._healthy_reward - (_ctrl(p, action) + contact)
    return r, (~healthy) & bool(p._terminate_when_unhealthy)


# --- Humanoid / HumanoidStandup -------------------------------------------
def _humanoid_obs(p: Any, f: Fields) -> np.ndarray:
    n = len(f.qpos)
    parts = [_positions(p, f, 2), f.qvel]
    if p._include_cinert_in_observation:
        parts.append(f.cinert[:, 1:].reshape(n, -1))
    if p._include_cvel_in_observation:
        parts.append(f.cvel[:, 1:].reshape(n, -1))
    if p._include_qfrc_actuator_in_observation:
        parts.append(f.qfrc_actuator[:, 6:])
    if p._include_cfrc_ext_in_observation:
        parts.append(f.cfrc_ext[:, 1:].reshape(n, -1))
    return np.concatenate(parts, axis=1)


def _mass_center(p: Any, f: Fields) -> np.ndarray:
    """Gymnasium's ``mass_center``: (body_mass . xipos) / sum(body_mass), x and y, per simulation."""
    mass = f.body_mass
    num = np.einsum("nb,nbj->nj", mass, f.xipos)
    return (num / mass.sum(axis=1, keepdims=True))[:, 0:2].copy()


def _humanoid_reward(p: Any, f: Fields, before: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x_velocity = ((_mass_center(p, f) - before) / p.dt)[:, 0]
    lo, hi = p._healthy_z_range
    healthy = (lo < f.qpos[:, 2]) & (f.qpos[:, 2] < hi)
    contact = p._contact_cost_weight * np.square(f.cfrc_ext).reshape(len(healthy), -1).sum(axis=1)
    contact = np.clip(contact, *p._contact_cost_range)
    r = p._forward_reward_weight * x_velocity + healthy * p._healthy_reward - (_ctrl(p, action, np.float64) + contact)
    return r, (~healthy) & bool(p._terminate_when_unhealthy)


def _standup_reward(p: Any, f: Fields, before: Any, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uph = (f.qpos[:, 2] - 0) / p.model.opt.timestep
    ctrl = _ctrl(p, action, np.float64)
    impact = p._impact_cost_weight * np.square(f.cfrc_ext).reshape(len(uph), -1).sum(axis=1)
    impact = np.clip(impact, *p._impact_cost_range)
    return uph - ctrl - impact + 1, np.zeros(len(uph), bool)


# --- Pusher -------------------------------------------------------------------
def _pusher_obs(p: Any, f: Fields) -> np.ndarray:
    return np.concatenate([f.qpos[:, :7], f.qvel[:, :7], f.xpos[:, p._tips], f.xpos[:, p._object], f.xpos[:, p._goal]],
                          axis=1)


def _pusher_reward(p: Any, f: Fields, before: Any, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    obj = f.xpos[:, p._object]
    near = -np.linalg.norm(obj - f.xpos[:, p._tips], axis=1) * p._reward_near_weight
    dist = -np.linalg.norm(obj - f.xpos[:, p._goal], axis=1) * p._reward_dist_weight
    ctrl = -np.square(action).sum(axis=1) * p._reward_control_weight
    return dist + ctrl + near, np.zeros(len(dist), bool)


def _pusher_reset(p: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    qpos = p.init_qpos.copy()  # Gymnasium writes into init_qpos itself; only these entries change
    goal = np.asarray([0, 0])
    while True:
        cylinder = np.concatenate([rng.uniform(low=-0.3, high=0, size=1), rng.uniform(low=-0.2, high=0.2, size=1)])
        if np.linalg.norm(cylinder - goal) > 0.17:
            break
    qpos[-4:-2] = cylinder
    qpos[-2:] = goal
    qvel = p.init_qvel + rng.uniform(low=-0.005, high=0.005, size=p.model.nv)
    qvel[-4:] = 0
    return qpos, qvel


_HUMANOID = ("xipos", "cinert", "cvel", "qfrc_actuator")

TASKS: dict[str, Task] = {
    "InvertedPendulum-v5": Task("InvertedPendulum-v5", (), _ip_obs, lambda p, f: None, _ip_reward, _uniform_reset),
    "InvertedDoublePendulum-v5": Task("InvertedDoublePendulum-v5", ("site_xpos", "qfrc_constraint"), _idp_obs,
                                      lambda p, f: None, _idp_reward, _idp_reset),
    "Reacher-v5": Task("Reacher-v5", ("xpos",), _reacher_obs, lambda p, f: None, _reacher_reward, _reacher_reset),
    "Swimmer-v5": Task("Swimmer-v5", (), _swimmer_obs, _swimmer_before, _swimmer_reward, _uniform_reset),
    "Hopper-v5": Task("Hopper-v5", (), _clipped_obs, _x_before, _legged_reward(_hopper_healthy), _uniform_reset),
    "Walker2d-v5": Task("Walker2d-v5", (), _clipped_obs, _x_before, _legged_reward(_walker_healthy), _uniform_reset),
    "HalfCheetah-v5": Task("HalfCheetah-v5", (), _cheetah_obs, _x_before, _cheetah_reward, _normal_vel_reset),
    "Ant-v5": Task("Ant-v5", ("xpos",), _ant_obs, _ant_before, _ant_reward, _normal_vel_reset,
                   needs_rne=True, zero_at_reset=("cfrc_ext",)),
    "Humanoid-v5": Task("Humanoid-v5", _HUMANOID, _humanoid_obs, _mass_center, _humanoid_reward, _uniform_reset,
                        needs_rne=True, zero_at_reset=("cfrc_ext",)),
    "HumanoidStandup-v5": Task("HumanoidStandup-v5", _HUMANOID, _humanoid_obs, lambda p, f: None, _standup_reward,
                               _uniform_reset, needs_rne=True, zero_at_reset=("cfrc_ext",)),
    "Pusher-v5": Task("Pusher-v5", ("xpos",), _pusher_obs, lambda p, f: None, _pusher_reward, _pusher_reset),
}


def prepare(task: Task, env: Any) -> SimpleNamespace:
    """The task's parameters, read from a Gymnasium env built with the scenario's kwargs."""
    import mujoco

    p = SimpleNamespace(**vars(env), dt=env.dt)
    if task.name == "Reacher-v5":
        p._tip = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "fingertip")
        p._target = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "target")
    if task.name == "Pusher-v5":
        p._tips, p._object, p._goal = (mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, b) for b in ("tips_arm", "object", "goal"))
    if task.name == "Ant-v5":
        main = env._main_body
        p._main_body_id = main if isinstance(main, int) else mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, main)
    return p
