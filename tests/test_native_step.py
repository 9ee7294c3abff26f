"""The lean native MuJoCo steps return exactly what Gymnasium's step returns."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import scenarios
from scenarios.sources.mujoco_native import native_step

TASKS = ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "InvertedPendulum-v5"]


def _same(a: tuple, b: tuple) -> None:
    obs_a, rew_a, term_a, trunc_a, info_a = a
    obs_b, rew_b, term_b, trunc_b, info_b = b
    assert obs_a.dtype == obs_b.dtype and np.array_equal(obs_a, obs_b)
    assert rew_a == rew_b and type(rew_a) is type(rew_b)
    assert term_a == term_b and type(term_a) is type(term_b) and trunc_a == trunc_b
    assert list(info_a) == list(info_b)
    for k in info_a:
        assert info_a[k] == info_b[k] and type(info_a[k]) is type(info_b[k]), k


def _pair(task: str, **kwargs) -> tuple[gym.Env, gym.Env]:
    return gym.make(task, **kwargs).unwrapped, gym.make(task, **kwargs).unwrapped


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, list])
def test_native_step_is_bit_identical_to_gymnasium(task, dtype):
    ref, env = _pair(task)
    step = native_step(env)
    assert step is not None
    rng = np.random.default_rng(0)
    n = env.action_space.shape[0]
    ref.reset(seed=3), env.reset(seed=3)
    ends = 0
    for t in range(1500):
        a = rng.uniform(-1.5, 1.5, n)  # beyond the bounds too: Gymnasium does not clip either
        a = a.tolist() if dtype is list else a.astype(dtype)
        out_ref, out = ref.step(a), step(a)
        _same(out_ref, out)
        if out[2] or t % 400 == 399:
            ends += 1
            ref.reset(seed=t), env.reset(seed=t)
    assert ends >= 3


@pytest.mark.parametrize("task, kwargs", [
    ("HalfCheetah-v5", {"exclude_current_positions_from_observation": False, "forward_reward_weight": 2.0, "ctrl_cost_weight": 0.3}),
    ("Hopper-v5", {"terminate_when_unhealthy": False, "healthy_reward": 2.0, "healthy_z_range": (0.9, 1.5)}),
    ("Walker2d-v5", {"exclude_current_positions_from_observation": False, "healthy_angle_range": (-0.5, 0.5)}),
])
def test_kwargs_and_perturbed_models_keep_parity(task, kwargs):
    ref, env = _pair(task, **kwargs)
    for e in (ref, env):  # a heavier torso and a longer timestep: the native step reads them live
        e.model.body_mass[1] *= 1.7
        e.model.opt.timestep *= 1.25
    step = native_step(env)
    rng = np.random.default_rng(1)
    ref.reset(seed=0), env.reset(seed=0)
    for t in range(600):
        a = rng.uniform(-1, 1, env.action_space.shape[0])
        out_ref, out = ref.step(a), step(a)
        _same(out_ref, out)
        if out[2]:
            ref.reset(seed=t), env.reset(seed=t)


def test_wrong_action_shape_is_refused_like_gymnasium():
    env = gym.make("HalfCheetah-v5").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Action dimension mismatch"):
        native_step(env)(np.zeros(5))


def test_other_envs_keep_gymnasium_step():
    assert native_step(gym.make("Ant-v5").unwrapped) is None
    assert native_step(gym.make("CartPole-v1").unwrapped) is None
    assert native_step(gym.make("HalfCheetah-v5", render_mode="human").unwrapped) is None


def test_scenarios_use_the_native_step_and_match_gymnasium_episodes():
    sc = scenarios.make("mujoco/Hopper-v5", seed=0)
    assert sc.source._step.__module__ == "scenarios.sources.mujoco_native"
    ref = gym.make("Hopper-v5")
    rng = np.random.default_rng(2)
    obs, _ = sc.reset(seed=5)
    ref_obs, _ = ref.reset(seed=5)
    total, ref_total = 0.0, 0.0
    for _ in range(1000):
        a = rng.uniform(-1, 1, 3).astype(np.float32)
        obs, rew, term, trunc, _ = sc.step({"agent_0": a})
        ref_obs, ref_rew, ref_term, ref_trunc, _ = ref.step(a)
        assert np.array_equal(obs["agent_0"], ref_obs)
        total, ref_total = total + rew["agent_0"], ref_total + ref_rew
        assert term["agent_0"] == ref_term and trunc["agent_0"] == ref_trunc
        if not sc.agents:
            break
    assert total == ref_total
