"""MAPPO/IPPO's NumPy networks (``agents.marl.numpy_nets``) against torch autograd: the same loss, the
same gradients, the same update; and the cases that keep autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.marl.numpy_nets import ppo_gradients

CASES = [
    ("mappo", "mpe/simple_spread-v3", {}),
    ("ippo", "mpe/simple_spread-v3", {"value_clip": False}),
    ("mappo", "mpe/simple_spread_continuous-v3", {"huber_loss": False}),
    ("mappo", "mpe/simple_speaker_listener-v4", {"activation": "relu", "huber_delta": 0.3}),
    ("ippo", "mpe/simple_spread_continuous-v3", {"critic": "agent_specific", "value_norm": False}),
]


def _batch(ag: agents.Agent, gi: int, T: int, B: int, seed: int) -> list[torch.Tensor]:
    """A random minibatch (T, B, ...) for group ``gi``: ratios away from 1 (the clip binds for some
    rows), value predictions away from the rollout's (the value clip binds), some rows masked out."""
    rng = np.random.default_rng(seed)
    g, net = ag.groups[gi], ag.nets[gi]
    x = rng.normal(size=(T, B, g.in_dim)).astype(np.float32)
    c = rng.normal(size=(T, B, net.critic.body[0].in_features)).astype(np.float32)
    if g.discrete:
        a = rng.integers(0, g.act_dim, size=(T, B))
    else:
        a = rng.normal(size=(T, B, g.act_dim)).astype(np.float32)
    f = lambda *shape, scale=1.0: (scale * rng.normal(size=shape)).astype(np.float32)  # noqa: E731
    old_logp = f(T, B, scale=0.5) - 1.5
    old_v, target, adv = f(T, B, scale=0.3), f(T, B, scale=2.0), f(T, B)
    mask = (rng.random((T, B)) > 0.2).astype(np.float32)
    return [torch.as_tensor(v) for v in (x, c, a, old_logp, old_v, target, adv, mask)]


@pytest.mark.parametrize("method,scenario,overrides", CASES)
def test_gradients_match_autograd(method: str, scenario: str, overrides: dict) -> None:
    ag = agents.make(method, scenario, seed=0, **overrides)
    for gi, net in enumerate(ag.nets):
        fast = ag._numpy[gi]
        assert fast is not None
        batch = _batch(ag, gi, T=5, B=6, seed=gi)
        T, B = batch[0].shape[:2]
        zeros = net.actor.initial(B)
        for p in net.parameters():
            p.grad = None
        loss = ag.minibatch_loss(net, *batch, torch.zeros(T, B), zeros, zeros)
        loss.backward()
        want = np.concatenate([p.grad.numpy().reshape(-1) for p in net.parameters()])
        got = ppo_gradients(fast, *(t.reshape(T * B, *t.shape[2:]).numpy() for t in batch), ag.hparams, loss=True)
        assert got == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(fast.grad, want, rtol=1e-4, atol=2e-6)
        assert np.abs(want).max() > 1e-3  # a real gradient, not two zero vectors


def test_parameters_move_into_one_vector_unchanged() -> None:
    ag = agents.make("mappo", "mpe/simple_spread-v3", seed=1)  # the seed sets torch's initialization
    before = agents.make("mappo", "mpe/simple_spread-v3", seed=1)
    fast = ag._numpy[0]
    params = list(ag.nets[0].parameters())
    assert all(np.shares_memory(p.detach().numpy(), fast.flat) for p in params)
    for p, q in zip(params, before.nets[0].parameters()):
        assert torch.equal(p, q)
    fast.grad[:] = 1.0
    fast.step(1e-3, None)  # one Adam step moves every parameter by lr
    np.testing.assert_allclose(params[0].detach().numpy(), before.nets[0].actor.body[0].weight.detach().numpy() - 1e-3,
                               atol=1e-6)


def _rollout(method: str, scenario: str, **overrides: object) -> tuple[agents.Agent, tuple]:
    """A fresh agent and the arguments of its first update (not run)."""
    ag = agents.make(method, scenario, seed=0, n_envs=4, n_steps=10, **overrides)
    captured = {}
    update = ag._update
    ag._update = lambda gi, b, last_v, h0: captured.setdefault(gi, (gi, b, last_v, h0))
    ag.learn(40)
    ag._update = update
    return ag, captured[0]


@pytest.mark.parametrize("scenario,overrides", [("mpe/simple_spread-v3", {}),
                                                ("mpe/simple_spread_continuous-v3", {}),
                                                ("mpe/simple_spread-v3", {"critic": "agent_specific"}),
                                                ("mpe/simple_spread-v3", {"agent_id": False})])
@pytest.mark.parametrize("minibatches", [1, 3])
def test_update_matches_the_autograd_update(scenario: str, overrides: dict, minibatches: int) -> None:
    """Ten epochs of clipped, Adam-stepped updates from one rollout land on the same parameters (one
    minibatch: the critic's shared state goes through its first layer once per copy)."""
    runs = []
    for path in ("numpy", "autograd"):
        ag, args = _rollout("mappo", scenario, **overrides)
        ag.hparams["minibatches"] = minibatches
        if path == "autograd":
            ag._numpy[0] = None
            ag.opts[0] = torch.optim.Adam(ag.nets[0].parameters(), lr=ag.hparams["learning_rate"], eps=1e-5)
        torch.manual_seed(7)  # the minibatch permutations
        ag._update(*args)
        runs.append(torch.cat([p.detach().reshape(-1) for p in ag.nets[0].parameters()]).numpy().copy())
    ag0, _ = _rollout("mappo", scenario, **overrides)
    start = torch.cat([p.detach().reshape(-1) for p in ag0.nets[0].parameters()]).numpy()
    moved = np.abs(runs[0] - start).max()
    assert moved > 1e-3
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-5)


def test_recurrent_and_layer_norm_keep_autograd() -> None:
    for overrides in ({"recurrent": True}, {"layer_norm": True}):
        ag = agents.make("mappo", "mpe/simple_spread-v3", seed=0, n_envs=2, n_steps=5, **overrides)
        assert ag._numpy == [None]
        before = [p.detach().clone() for p in ag.nets[0].parameters()]
        ag.learn(20)
        assert any(not torch.equal(b, p) for b, p in zip(before, ag.nets[0].parameters()))
