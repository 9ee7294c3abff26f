"""The agents protocol: random and SB3 PPO, learning, determinism, save/load, bad input."""

from pathlib import Path

import numpy as np
import pytest
import torch

import agents
import scenarios
import testbed
from scenarios import UserError

IP = "mujoco/InvertedPendulum-v5"


def _returns(agent, episodes=8, seed=100):
    return np.array([r.team_return for r in testbed.evaluate(agent, episodes=episodes, seed=seed)])


def test_list_names():
    assert {"random", "ppo"} <= set(agents.list_names())


def test_random_agent_acts_in_every_agents_space():
    sc = scenarios.make("mpe/simple_adversary-v3")
    ag = agents.make("random", sc, seed=0)
    obs = {a: np.zeros((5, *sc.observation_space(a).shape)) for a in sc.possible_agents}
    acts = ag.act(obs)
    for a in sc.possible_agents:
        assert acts[a].shape[0] == 5 and all(sc.action_space(a).contains(x) for x in acts[a])


@pytest.fixture(scope="module")
def trained_ppo(tmp_path_factory) -> Path:
    ag = agents.make("ppo", IP, seed=0)
    ag.learn(20_000)
    return ag.save(tmp_path_factory.mktemp("ckpt") / "ppo")


def test_ppo_clearly_beats_random_on_a_tiny_budget(trained_ppo):
    ppo = _returns(agents.load(trained_ppo))
    rnd = _returns(agents.make("random", IP, seed=0))
    assert np.median(ppo) > 10 * np.median(rnd)
    assert np.median(ppo) > 200


def test_save_load_round_trip_gives_identical_actions(trained_ppo, tmp_path):
    a = agents.load(trained_ppo)
    obs = {"agent_0": np.random.default_rng(0).normal(size=(16, 4))}
    again = agents.load(a.save(tmp_path / "again"))
    np.testing.assert_array_equal(a.act(obs)["agent_0"], again.act(obs)["agent_0"])


def test_training_is_deterministic_for_a_seed():
    def train():
        ag = agents.make("ppo", "classic/CartPole-v1", seed=3, n_envs=2, n_steps=64, batch_size=64, n_epochs=2)
        ag.learn(512)
        return torch.cat([p.detach().flatten() for p in ag.model.policy.parameters()])

    assert torch.equal(train(), train())


def test_normalization_statistics_travel_with_the_checkpoint(tmp_path):
    ag = agents.make("ppo", "classic/Pendulum-v1", seed=0, normalize=True, n_envs=2, n_steps=64, batch_size=64)
    ag.learn(512)
    mean = ag.vecnorm.obs_rms.mean.copy()
    loaded = agents.load(ag.save(tmp_path / "n"))
    np.testing.assert_array_equal(loaded.vecnorm.obs_rms.mean, mean)
    assert not np.allclose(mean, 0.0)
    obs = {"agent_0": np.ones((3, 3), np.float32)}
    np.testing.assert_array_equal(ag.act(obs)["agent_0"], loaded.act(obs)["agent_0"])


def test_shared_parameter_ppo_on_a_homogeneous_team():
    ag = agents.make("ppo", "mpe/simple_spread-v3", seed=0, n_envs=2, n_steps=32, batch_size=64, n_epochs=1)
    ag.learn(600)
    recs = testbed.evaluate(ag, episodes=2, seed=0)
    assert set(recs[0].returns) == {"agent_0", "agent_1", "agent_2"}
    assert recs[0].team_return == pytest.approx(sum(recs[0].returns.values()))


def test_heterogeneous_team_is_refused_with_a_clear_error():
    with pytest.raises(UserError, match="different spaces"):
        agents.make("ppo", "mpe/simple_speaker_listener-v4")


def test_unknown_hyperparameter_names_valid_ones():
    with pytest.raises(UserError, match=r"unknown hyperparameter 'learning_rat'.*did you mean: learning_rate.*valid:"):
        agents.make("ppo", IP, learning_rat=1e-3)


def test_unknown_agent_suggests():
    with pytest.raises(UserError, match="did you mean: ppo"):
        agents.make("ppoo", IP)


def test_checkpoint_refuses_a_scenario_with_other_spaces(trained_ppo):
    with pytest.raises(UserError, match="does not fit mujoco/InvertedDoublePendulum-v5: agent_0 observation space"):
        agents.load(trained_ppo, "mujoco/InvertedDoublePendulum-v5")


def test_loading_a_folder_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(UserError, match="not a checkpoint folder"):
        agents.load(tmp_path)
    with pytest.raises(UserError, match="checkpoint not found"):
        agents.load(tmp_path / "nope")


@pytest.mark.parametrize("name,sid,kw", [
    ("ppo", "classic/CartPole-v1", {"n_steps": 64, "batch_size": 64}),
    ("ppo", "mpe/simple_spread-v3", {"n_envs": 1, "n_steps": 32, "batch_size": 32, "sharing": "group"}),
    ("rarl", "mujoco/InvertedPendulum-v5", {"n_envs": 1, "n_steps": 64, "batch_size": 64, "adversary_bodies": ["pole"], "rounds": 1}),
])
def test_training_leaves_no_sb3_folders_in_the_temp_dir(name, sid, kw, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3's default logger would create SB3-<time>/
    ag = agents.make(name, sid, seed=0, **kw)
    ag.learn(128)
    ag.learn(128)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("SB3-")] == []


def test_a_discrete_space_mismatch_names_both_sizes(tmp_path):
    """Both spaces read ``Discrete() int64``: the sizes that differ were left out."""
    ag = agents.make("q_learning", "toytext/FrozenLake-v1", seed=0)
    ag.learn(10)
    ag.save(tmp_path / "q")
    with pytest.raises(UserError, match=r"observation space was Discrete\(16\) int64, scenario has Discrete\(64\) int64"):
        agents.load(tmp_path / "q", "toytext/FrozenLake8x8-v1")
