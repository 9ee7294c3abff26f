"""IQL's, VDN's and QMIX's NumPy networks (``agents.marl.numpy_value_nets``) against torch autograd through
the same modules: the same loss and the same gradients for every mixer, and the parameters still the
torch modules' own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.marl.numpy_nets import rows
from agents.marl.numpy_value_nets import td_gradients

CASES = [
    ("qmix", "mpe/simple_spread-v3", {}),
    ("qmix", "mpe/simple_speaker_listener-v4", {"mixing_embed": 8}),  # two groups of different shapes
    ("vdn", "mpe/simple_spread-v3", {}),
    ("vdn", "mpe/simple_reference-v3", {"sharing": "none"}),
    ("iql", "mpe/simple_spread-v3", {"agent_id": False}),
    ("iql", "mpe/simple_speaker_listener-v4", {}),
]


def _batch(ag: agents.Agent, B: int, seed: int) -> dict[str, np.ndarray]:
    """A random minibatch in the replay's layout: some agents terminated, some not live."""
    rng = np.random.default_rng(seed)
    n = len(ag.agents)
    b: dict[str, np.ndarray] = {
        "state": rng.normal(size=(B, ag.state_dim)).astype(np.float32),
        "next_state": rng.normal(size=(B, ag.state_dim)).astype(np.float32),
        "reward": rng.normal(size=(B, n)).astype(np.float32),
        "term": (rng.random((B, n)) < 0.3).astype(np.float32),
        "mask": (rng.random((B, n)) < 0.8).astype(np.float32),
    }
    for gi, g in enumerate(ag.groups):
        k = len(g.agents)
        b[f"x{gi}"] = rng.normal(size=(B, k, g.in_dim)).astype(np.float32)
        b[f"nx{gi}"] = rng.normal(size=(B, k, g.in_dim)).astype(np.float32)
        b[f"a{gi}"] = rng.integers(0, g.act_dim, size=(B, k))
    return b


def _autograd_loss(ag: agents.Agent, b: dict[str, np.ndarray], shift: float, scale: float) -> torch.Tensor:
    """The TD loss written with the torch modules and autograd (the learner's loss before the NumPy path)."""
    gamma = ag.hparams["gamma"]
    t = {k: torch.as_tensor(v) for k, v in b.items()}
    G = len(ag.groups)
    q = [ag.q[gi](t[f"x{gi}"]) for gi in range(G)]
    chosen = torch.cat([q[gi].gather(2, t[f"a{gi}"].unsqueeze(2)).squeeze(2) for gi in range(G)], 1)
    with torch.no_grad():
        online = [ag.q[gi](t[f"nx{gi}"]) for gi in range(G)]
        target = [ag.q_target[gi](t[f"nx{gi}"]) for gi in range(G)]
        nxt = torch.cat([target[gi].gather(2, online[gi].argmax(2, keepdim=True)).squeeze(2) for gi in range(G)], 1)
    mask = t["mask"]
    if ag.mixer == "none":
        y = (t["reward"] - shift) / scale + gamma * (1 - t["term"]) * nxt
        return (((chosen - y) ** 2) * mask).sum() / mask.sum().clamp(min=1)
    team_r = ((t["reward"] * mask).sum(1) - shift) / scale
    next_live = mask * (1 - t["term"])
    ended = (next_live.sum(1) == 0).float()
    if ag.mixer == "vdn":
        q_tot, next_tot = (chosen * mask).sum(1), (nxt * next_live).sum(1)
    else:
        q_tot = ag.mix(chosen * mask, t["state"])
        with torch.no_grad():
            next_tot = ag.mix_target(nxt * next_live, t["next_state"])
    return ((q_tot - (team_r + gamma * (1 - ended) * next_tot).detach()) ** 2).mean()


@pytest.mark.parametrize("method,scenario,overrides", CASES)
def test_loss_and_gradients_match_autograd(method: str, scenario: str, overrides: dict) -> None:
    ag = agents.make(method, scenario, seed=0, **overrides)
    with torch.no_grad():  # targets away from the online networks: the double-Q choice matters
        for p in list(ag.q_target.parameters()) + (list(ag.mix_target.parameters()) if ag.mix is not None else []):
            p.add_(0.3 * torch.randn_like(p))
    params = list(ag.q.parameters()) + (list(ag.mix.parameters()) if ag.mix is not None else [])
    for seed, (shift, scale) in enumerate([(0.0, 1.0), (-0.7, 2.5)]):
        b = _batch(ag, 64, seed)
        for p in params:
            p.grad = None
        want_loss = _autograd_loss(ag, b, shift, scale)
        want_loss.backward()
        want = np.concatenate([p.grad.numpy().reshape(-1) for p in params])
        got_loss = td_gradients(ag._fast, b, ag.mixer, ag.hparams["gamma"], shift, scale)
        assert got_loss == pytest.approx(want_loss.item(), rel=1e-5)
        # float32 sums of terms up to ~1e3 (QMIX's gain): absolute rounding relative to the largest entry
        np.testing.assert_allclose(ag._fast.grad, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
        assert np.abs(want).max() > 1e-3  # a real gradient, not two zero vectors


def test_an_update_moves_the_torch_modules_and_the_target_copy_follows() -> None:
    ag = agents.make("qmix", "mpe/simple_spread-v3", seed=0, target_update_interval=2)
    before = {k: v.clone() for k, v in ag.mix.state_dict().items()}
    target_before = {k: v.clone() for k, v in ag.mix_target.state_dict().items()}
    b = _batch(ag, 32, 0)
    ag._update(b, 1e-3)
    assert all(not torch.equal(before[k], v) for k, v in ag.mix.state_dict().items())  # the module's own tensors
    assert all(torch.equal(target_before[k], v) for k, v in ag.mix_target.state_dict().items())
    ag._update(b, 1e-3)  # the second update copies the online networks into the targets
    for k, v in ag.mix.state_dict().items():
        assert torch.equal(ag.mix_target.state_dict()[k], v)
    for net, target in zip(ag.q, ag.q_target):
        for p, pt in zip(net.parameters(), target.parameters()):
            assert torch.equal(p, pt)
    x = ag.groups[0].inputs({a: np.ones((4, 18), np.float32) for a in ag.groups[0].agents})
    with torch.no_grad():  # the NumPy targets read the copied tensors
        reference = ag.q_target[0](torch.as_tensor(x)).numpy()
        np.testing.assert_allclose(ag._fast.q_target[0].forward(rows(x))[0], reference.reshape(-1, reference.shape[-1]),
                                   rtol=1e-5, atol=1e-6)
