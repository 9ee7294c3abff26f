"""Checkpoints are data: loading an SB3-backed agent unpickles nothing (SB3's custom_objects for
every pickled item, tensors with weights_only), normalization statistics are arrays, and a legacy
pickled VecNormalize is refused with how to convert it."""

import pickle
import subprocess
import sys

import cloudpickle
import numpy as np
import pytest

import agents
from scenarios import UserError

IP = "mujoco/InvertedPendulum-v5"
CASES = [("ppo", "classic/CartPole-v1", {"normalize": True, "n_envs": 2, "n_steps": 64, "batch_size": 64}),
         pytest.param("sac", "classic/Pendulum-v1", {"normalize": True, "learning_starts": 100, "batch_size": 32},
                      marks=pytest.mark.slow),
         ("dqn", "classic/CartPole-v1", {"learning_starts": 50}),
         ("td3", "classic/Pendulum-v1", {"action_noise": {"type": "normal", "std": 0.1}, "learning_starts": 100, "batch_size": 32}),
         ("ppo", "mpe/simple_spread-v3", {"sharing": "none", "n_envs": 2, "n_steps": 32, "batch_size": 32}),
         ("rarl", IP, {"rounds": 1, "adversary_bodies": ["pole"], "n_envs": 2, "n_steps": 64, "batch_size": 64})]


def _refuse(*args, **kwargs):
    raise AssertionError("a checkpoint was unpickled")


@pytest.mark.parametrize("name, sid, kw", CASES)
def test_loading_unpickles_nothing_and_acts_and_trains_on(name, sid, kw, tmp_path, monkeypatch):
    ag = agents.make(name, sid, seed=0, **kw)
    ag.learn(128)
    path = ag.save(tmp_path / "ckpt")
    assert not list(path.rglob("*.pkl"))
    monkeypatch.setattr(pickle, "loads", _refuse)
    monkeypatch.setattr(pickle, "load", _refuse)
    monkeypatch.setattr(cloudpickle, "loads", _refuse)
    back = agents.load(path)
    obs, _ = back.scenario.vector(3, seed=5).reset()
    mine, theirs = ag.act(obs), back.act(obs)
    assert all(np.allclose(mine[a], theirs[a]) for a in mine)
    if kw.get("normalize"):
        assert np.array_equal(back.vecnorm.obs_rms.mean, ag.vecnorm.obs_rms.mean) and back.vecnorm.training is False
    back.learn(64)  # the loaded agent trains on


def test_a_legacy_pickled_normalizer_is_refused_with_its_conversion(tmp_path):
    ag = agents.make("ppo", "classic/CartPole-v1", seed=0, normalize=True, n_envs=2, n_steps=64, batch_size=64)
    ag.learn(128)
    path = ag.save(tmp_path / "old")
    vecnorm = ag.vecnorm
    venv, vecnorm.venv = vecnorm.venv, None
    (path / "vecnormalize.pkl").write_bytes(pickle.dumps(vecnorm))  # what checkpoints held before
    vecnorm.venv = venv
    for f in ("normalization.npz", "normalization.json"):
        (path / f).unlink()
    with pytest.raises(UserError, match="python -m agents.sb3_checkpoint"):
        agents.load(path)
    proc = subprocess.run([sys.executable, "-m", "agents.sb3_checkpoint", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    back = agents.load(path)
    assert np.array_equal(back.vecnorm.obs_rms.var, ag.vecnorm.obs_rms.var) and not (path / "vecnormalize.pkl").exists()
