"""The Gymnasium, PettingZoo and vectorized faces over one scenario."""

import numpy as np
import pytest

import scenarios
from scenarios import UserError


def test_gymnasium_face_matches_gymnasium():
    import gymnasium as gym

    ours = scenarios.make("mujoco/Hopper-v5").as_gymnasium()
    ref = gym.make("Hopper-v5")
    o1, _ = ours.reset(seed=11)
    o2, _ = ref.reset(seed=11)
    np.testing.assert_array_equal(o1, o2)
    ref.action_space.seed(0)
    for _ in range(50):
        a = ref.action_space.sample()
        s1, s2 = ours.step(a), ref.step(a)
        np.testing.assert_array_equal(s1[0], s2[0])
        assert s1[1:4] == s2[1:4]
        if s2[2] or s2[3]:
            break


def test_gymnasium_face_refuses_multi_agent():
    with pytest.raises(UserError, match="as_gymnasium\\(\\) needs a one-agent scenario"):
        scenarios.make("mpe/simple_spread-v3").as_gymnasium()


def test_pettingzoo_face_steps_every_agent():
    env = scenarios.make("mpe/simple_spread-v3").as_pettingzoo()
    obs, _ = env.reset(seed=0)
    assert set(obs) == set(env.possible_agents) == {"agent_0", "agent_1", "agent_2"}
    for t in range(25):
        obs, rew, term, trunc, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert all(trunc.values()) and env.agents == []


def test_vector_copies_match_single_scenarios_with_seed_offsets():
    vec = scenarios.make("classic/Pendulum-v1").vector(3, seed=20)
    obs, _ = vec.reset()
    for i in range(3):
        single = scenarios.make("classic/Pendulum-v1", seed=20 + i)
        o, _ = single.reset()
        np.testing.assert_array_equal(obs["agent_0"][i], o["agent_0"])


def test_vector_autoreset_truncation_flags_and_final_observation():
    limit = 7
    vec = scenarios.make("classic/Pendulum-v1", time_limit=limit).vector(2, seed=0)
    ref = scenarios.make("classic/Pendulum-v1", seed=0, time_limit=limit)
    ref_obs, _ = ref.reset()
    obs, _ = vec.reset()
    act = {"agent_0": np.zeros((2, 1), np.float32)}
    for t in range(limit):
        obs, rew, term, trunc, infos = vec.step(act)
        r = ref.step({"agent_0": act["agent_0"][0]})
        assert rew["agent_0"][0] == r[1]["agent_0"]
    assert trunc["agent_0"].all() and not term["agent_0"].any()
    info = infos[0]
    assert info["episode"]["length"] == limit and info["episode"]["truncated"] and not info["episode"]["terminated"]
    np.testing.assert_array_equal(info["final_observation"]["agent_0"], r[0]["agent_0"])
    assert not np.array_equal(obs["agent_0"][0], r[0]["agent_0"])  # already the next episode's first obs
    assert not vec.done.any()  # autoreset restarted both copies


def test_vector_autoreset_on_termination():
    vec = scenarios.make("classic/CartPole-v1").vector(2, seed=0)
    vec.reset()
    push_left = {"agent_0": np.zeros(2, np.int64)}
    for _ in range(200):
        _, _, term, trunc, infos = vec.step(push_left)
        if "episode" in infos[0]:
            break
    assert term["agent_0"][0] and not trunc["agent_0"][0]
    assert infos[0]["episode"]["terminated"] and infos[0]["episode"]["length"] < 50


def test_vector_without_autoreset_waits_for_explicit_reset():
    vec = scenarios.make("classic/Pendulum-v1", time_limit=3).vector(2, seed=0, autoreset=False)
    vec.reset()
    act = {"agent_0": np.zeros((2, 1), np.float32)}
    for _ in range(3):
        vec.step(act)
    assert vec.done.all()
    obs_before = vec._obs["agent_0"].copy()
    _, rew, _, _, infos = vec.step(act)  # finished copies do not move
    np.testing.assert_array_equal(vec._obs["agent_0"], obs_before)
    assert infos == [{}, {}]
    vec.reset(seed=[99], indices=[1])
    assert vec.done.tolist() == [True, False]


def test_vector_multi_agent_batches_per_agent():
    vec = scenarios.make("mpe/simple_speaker_listener-v4").vector(4, seed=0)
    obs, _ = vec.reset()
    assert obs["speaker_0"].shape == (4, 3) and obs["listener_0"].shape == (4, 11)
    acts = {a: np.stack([vec.action_spaces[a].sample() for _ in range(4)]) for a in vec.agents}
    _, rew, _, _, _ = vec.step(acts)
    assert set(rew) == {"speaker_0", "listener_0"} and rew["speaker_0"].shape == (4,)


def test_matrix_game_payoffs_and_observations():
    sc = scenarios.make("matrix/prisoners_dilemma-v0")
    obs, _ = sc.reset()
    assert not obs["agent_0"].any()
    obs, rew, *_ = sc.step({"agent_0": 0, "agent_1": 1})  # C vs D
    assert rew == {"agent_0": 0.0, "agent_1": 5.0}
    np.testing.assert_array_equal(obs["agent_0"], [1, 0, 0, 1])
    np.testing.assert_array_equal(obs["agent_1"], [0, 1, 1, 0])
