"""The learned dynamics ensemble (agents/dynamics_model.py): fits a known linear system to high
accuracy (one step and rolled out), learns termination, is deterministic per seed, and its
state (weights, normalizers, optimizer) round-trips."""

import math

import numpy as np
import torch

from agents.dynamics_model import DynamicsModel
from agents.transitions import Transitions

A = np.array([[0.95, 0.1, 0.0], [-0.1, 0.95, 0.05], [0.0, 0.0, 0.9]], np.float32)
B = np.array([[0.0], [0.5], [1.0]], np.float32)
C = np.array([1.0, -2.0, 0.5], np.float32)


def linear_system(n=3000, seed=0, scale=10.0):
    """x' = A x + B u, r = C x - u^2, on episodes of 100 steps from random starts (offset and scaled
    states, so normalization matters)."""
    rng = np.random.default_rng(seed)
    data = Transitions(3, 1)
    x = rng.normal(size=3).astype(np.float32)
    for t in range(n):
        u = rng.uniform(-1, 1, size=1).astype(np.float32)
        nxt = A @ x + B @ u
        end = (t + 1) % 100 == 0
        data.add(scale * x[None] + 5.0, u[None], np.array([C @ x - u[0] ** 2]), scale * nxt[None] + 5.0,
                 np.zeros(1, bool), np.array([end]))
        x = rng.normal(size=3).astype(np.float32) if end else nxt
    return data


def test_the_ensemble_fits_a_known_linear_system_to_high_accuracy():
    torch.set_num_threads(1)
    data = linear_system(n=2000)
    model = DynamicsModel(3, 1, members=3, hidden=[32, 32], learning_rate=3e-3, batch_size=64, horizon=5, seed=0)
    log = model.fit(data, updates=800, rng=np.random.default_rng(0))
    target_var = float((data.view("next_obs") - data.view("obs")).var(axis=0).mean())
    # measured 8e-6, 1e-4 and 3e-6 of the variances (2026-12-06): an order of magnitude of slack
    assert log["holdout_obs_mse"] < 1e-4 * target_var, log  # one step: residual < 0.01 % of the delta's variance
    assert log["holdout_reward_mse"] < 1e-3 * float(data.view("rewards").var()), log
    assert log["holdout_obs_mse_5"] < 1e-4 * float(data.view("obs").var(axis=0).mean()), log  # five steps rolled out
    x = np.array([[1.0, -1.0, 0.5]], np.float32)
    nxt, rew = model.predict_mean(10 * x + 5, np.array([[0.3]], np.float32))
    np.testing.assert_allclose(nxt, 10 * (x @ A.T + 0.3 * B.T) + 5, atol=0.1)
    np.testing.assert_allclose(rew, x @ C - 0.09, atol=0.1)


def test_the_ensemble_learns_termination_and_its_state_round_trips():
    rng = np.random.default_rng(1)
    data = Transitions(1, 1)
    x = rng.uniform(-2, 2, size=(1000, 1)).astype(np.float32)
    done = x[:, 0] > 1.0  # terminates from the right edge
    data.add(x, np.zeros((1000, 1), np.float32), np.ones(1000, np.float32), x, done, done)
    model = DynamicsModel(1, 1, members=2, hidden=[32], learning_rate=3e-3, seed=0)
    model.fit(data, updates=400, rng=np.random.default_rng(0))
    probe = torch.tensor([[[-1.5], [1.8]]]).expand(2, 2, 1)
    _, _, p = model.predict(probe, torch.zeros(2, 2, 1))
    assert (p[:, 0] < 0.1).all() and (p[:, 1] > 0.9).all()
    again = DynamicsModel(1, 1, members=2, hidden=[32], learning_rate=3e-3, seed=0)
    again.fit(data, updates=400, rng=np.random.default_rng(0))
    assert all(torch.equal(a, b) for a, b in zip(model.net.state_dict().values(), again.net.state_dict().values()))
    fresh = DynamicsModel(1, 1, members=2, hidden=[32], learning_rate=3e-3, seed=5)
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh.predict(probe, torch.zeros(2, 2, 1))[2], p)
    assert math.isclose(float(fresh.net.in_std[0]), float(model.net.in_std[0]))


def test_transitions_round_trip(tmp_path):
    data = linear_system(n=250)
    data.save(tmp_path / "d.npz")
    back = Transitions.load(tmp_path / "d.npz")
    assert len(back) == 250
    for f in ("obs", "actions", "rewards", "next_obs", "terminated", "ended"):
        np.testing.assert_array_equal(back.view(f), data.view(f))


def test_any_holdout_fraction_holds_out_that_share_of_whole_blocks_and_still_trains():
    """The split held out every round(1/f)-th block: any f above 2/3 held out every block and the fit
    sampled from no rows. Now the held-out share is f (every k-th block for f = 1/k, as before)."""
    data = linear_system(n=1000)
    for f in (0.1, 0.25, 0.3, 0.7, 0.95):
        model = DynamicsModel(3, 1, members=2, hidden=[16], batch_size=32, seed=0, holdout=f)
        train, held = model.split(100_000)
        assert abs(len(held) / 100_000 - f) < 1e-3 and len(np.intersect1d(train, held)) == 0
        assert math.isfinite(model.fit(data, updates=5, rng=np.random.default_rng(0))["holdout_obs_mse"])
    model = DynamicsModel(3, 1, members=2, hidden=[16], seed=0, holdout=0.1)
    np.testing.assert_array_equal(model.split(2000)[1], np.flatnonzero(np.arange(2000) // 50 % 10 == 9))  # as before
