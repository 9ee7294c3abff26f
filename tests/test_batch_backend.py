"""The batched MuJoCo backend: parity with Gymnasium, per-simulation dynamics, selection."""

import gymnasium as gym
import numpy as np
import pytest

import scenarios
import testbed
from scenarios import UserError
from scenarios.batch import TASKS

N = 3


@pytest.mark.parametrize("task", sorted(TASKS))
def test_parity_with_gymnasium_over_1000_steps(task):
    sc = scenarios.make(f"mujoco/{task}")
    vec = sc.vector(N, seed=100, backend="batch")
    envs = [gym.make(task) for _ in range(N)]
    obs, _ = vec.reset()
    ref = np.stack([env.reset(seed=100 + i)[0] for i, env in enumerate(envs)])
    np.testing.assert_allclose(obs["agent_0"], ref, atol=1e-6, rtol=0)
    space = sc.action_space("agent_0")
    rng = np.random.default_rng(1)
    ends = 0
    for _ in range(1000):
        action = rng.uniform(space.low, space.high, (N, *space.shape)).astype(np.float32)
        obs, rew, term, trunc, infos = vec.step({"agent_0": action})
        for i, env in enumerate(envs):
            o, r, te, tr, _ = env.step(action[i])
            assert (term["agent_0"][i], trunc["agent_0"][i]) == (te, tr)
            assert abs(rew["agent_0"][i] - r) <= 1e-6
            if te or tr:
                ends += 1
                np.testing.assert_allclose(infos[i]["final_observation"]["agent_0"], o, atol=1e-6, rtol=0)
                o, _ = env.reset()
            np.testing.assert_allclose(obs["agent_0"][i], o, atol=1e-6, rtol=0)
    assert ends >= N  # every copy crossed at least one episode boundary (time limit or termination)


def _rollout(spec, backend, steps=300):
    vec = scenarios.make(spec).vector(N, seed=3, backend=backend)
    obs, infos = vec.reset()
    out = [obs["agent_0"]]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs, rew, *_ = vec.step({"agent_0": rng.uniform(-1, 1, (N, 6)).astype(np.float32)})
        out.append(obs["agent_0"])
    return np.array(out)


@pytest.mark.parametrize("mode", ["reset", "interval"])
def test_per_simulation_dynamics_match_the_gymnasium_backend(mode):
    spec = scenarios.get_spec("mujoco/HalfCheetah-v5").model_dump() | {"time_limit": 120, "layers": [{
        "type": "dynamics", "params": {"mode": mode, "interval": 50, "parameters": [
            {"field": "body_mass", "low": 0.5, "high": 2.0},
            {"field": "geom_friction", "low": 0.3, "high": 1.5, "shared": True},
            {"field": "gravity", "operation": "scale", "low": 0.8, "high": 1.2},
            {"field": "dof_damping", "names": ["bthigh", "fthigh"], "low": 0.5, "high": 2.0},
            {"field": "actuator_gain", "low": 0.7, "high": 1.3}]}}]}
    batched, plain = _rollout(spec, "batch"), _rollout(spec, "gymnasium")
    np.testing.assert_allclose(batched, plain, atol=1e-9, rtol=0)
    nominal = _rollout(scenarios.get_spec("mujoco/HalfCheetah-v5").model_dump() | {"time_limit": 120}, "batch")
    assert np.abs(batched - nominal).max() > 0.1  # the randomization changed the physics


def test_each_simulation_carries_its_own_model_fields():
    spec = scenarios.get_spec("mujoco/Hopper-v5").model_dump() | {"layers": [{
        "type": "dynamics", "params": {"parameters": [{"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5}]}}]}
    vec = scenarios.make(spec).vector(16, seed=0)
    vec.reset()
    masses = vec.batch.expand("body_mass")[:, 1]
    assert len(set(masses.tolist())) == 16
    assert [p["body_mass.torso"] for p in vec.params] == masses.tolist()
    subtree = vec.batch.expanded("body_subtreemass")
    assert subtree is not None and len(set(subtree[:, 1].tolist())) == 16  # set_const ran per simulation


def test_backend_selection():
    assert scenarios.make("mujoco/HalfCheetah-v5").vector(2).backend == "batch"
    assert scenarios.make("mujoco/HalfCheetah-v5").vector(2, backend="gymnasium").backend == "gymnasium"
    assert scenarios.make("mujoco/HalfCheetah-easy-v0").vector(2).backend == "batch"  # every layer type runs batched
    assert scenarios.make("mujoco/HalfCheetah-easy-v0").vector(2, backend="gymnasium").backend == "gymnasium"
    assert scenarios.make("classic/CartPole-v1").vector(2).backend == "gymnasium"
    with pytest.raises(UserError, match="the batched backend supports"):
        scenarios.make("classic/CartPole-v1").vector(2, backend="batch")
    with pytest.raises(UserError, match="unknown backend"):
        scenarios.make("mujoco/HalfCheetah-v5").vector(2, backend="warp")


def test_harness_gives_identical_episodes_on_both_backends():
    class Lean:
        name = "lean"

        def __init__(self, scenario):
            self.scenario = scenario

        def act(self, obs, deterministic=True):
            x = obs["agent_0"]
            return {"agent_0": np.clip(2.0 * x[:, 1:2] + 0.3 * x[:, 3:4], -3, 3).astype(np.float32)}

    sc = scenarios.make("mujoco/InvertedPendulum-v5", time_limit=300)
    a = testbed.evaluate(Lean(sc), sc, episodes=6, seed=0, num_envs=4, backend="batch")
    b = testbed.evaluate(Lean(sc), sc, episodes=6, seed=0, num_envs=2, backend="gymnasium")
    assert [(r.team_return, r.length, r.terminated) for r in a] == [(r.team_return, r.length, r.terminated) for r in b]
