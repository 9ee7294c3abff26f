"""MADDPG's NumPy actors and critics (``agents.marl.numpy_maddpg``) against torch autograd through the same
modules: the same critic and actor losses and gradients (discrete and continuous actions, shared and
separate networks), the policy gradient through each agent's own action only, and Polyak averaging."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.marl.numpy_maddpg import actor_gradients, critic_gradients, critic_inputs, gumbel_noise, relaxed

CASES = [
    ("mpe/simple_spread-v3", {}),
    ("mpe/simple_spread-v3", {"sharing": "full"}),
    ("mpe/simple_speaker_listener-v4", {}),
    ("mpe/simple_spread_continuous-v3", {}),
    ("mpe/simple_spread_continuous-v3", {"sharing": "full", "gumbel_temperature": 0.5}),
]


def _batch(ag: agents.Agent, B: int, seed: int) -> tuple[dict[str, np.ndarray], list[np.ndarray | None]]:
    """A random minibatch in the replay's layout, and Gumbel noise per group (None for Box actions)."""
    rng = np.random.default_rng(seed)
    n = sum(len(g.agents) for g in ag.groups)
    b: dict[str, np.ndarray] = {
        "state": rng.normal(size=(B, ag.state_dim)).astype(np.float32),
        "next_state": rng.normal(size=(B, ag.state_dim)).astype(np.float32),
        "reward": rng.normal(size=(B, n)).astype(np.float32),
        "term": (rng.random((B, n)) < 0.3).astype(np.float32),
    }
    noise = []
    for gi, g in enumerate(ag.groups):
        k = len(g.agents)
        b[f"x{gi}"] = rng.normal(size=(B, k, g.in_dim)).astype(np.float32)
        b[f"nx{gi}"] = rng.normal(size=(B, k, g.in_dim)).astype(np.float32)
        if g.discrete:
            b[f"a{gi}"] = np.eye(g.act_dim, dtype=np.float32)[rng.integers(0, g.act_dim, size=(B, k))]
            noise.append(-np.log(rng.exponential(size=(B, k, g.act_dim))).astype(np.float32))
        else:
            b[f"a{gi}"] = rng.uniform(-1, 1, size=(B, k, g.act_dim)).astype(np.float32)
            noise.append(None)
    return b, noise


def _critic_input(state: torch.Tensor, joint: torch.Tensor, k: int, use_id: bool) -> torch.Tensor:
    B = state.shape[0]
    if joint.dim() == 2:
        joint = joint.unsqueeze(1).expand(B, k, -1)
    parts = [state.unsqueeze(1).expand(B, k, -1), joint] + ([torch.eye(k).expand(B, k, k)] if use_id else [])
    return torch.cat(parts, 2)


def _autograd_actor_loss(ag: agents.Agent, gi: int, b: dict[str, np.ndarray], noise: np.ndarray | None,
                         detach_teammates: bool = True) -> torch.Tensor:
    """MADDPG's actor loss with autograd (the learner's loss before the NumPy path)."""
    g, temp = ag.groups[gi], ag.hparams["gumbel_temperature"]
    t = {key: torch.as_tensor(v) for key, v in b.items()}
    B, k = t[f"x{gi}"].shape[:2]
    logits = ag.actors[gi](t[f"x{gi}"])
    if g.discrete:
        soft = torch.softmax((logits + torch.as_tensor(noise)) / temp, -1)
        hard = torch.nn.functional.one_hot(soft.argmax(-1), g.act_dim).float()
        mine = hard - soft.detach() + soft  # straight-through
    else:
        mine = torch.tanh(logits)
    if detach_teammates:
        own = torch.eye(k).view(1, k, k, 1)
        det = mine.detach()
        group = (det.unsqueeze(1) + own * (mine - det).unsqueeze(1)).reshape(B, k, -1)
    else:
        group = mine.reshape(B, 1, -1).expand(B, k, -1)
    parts = [group if gj == gi else t[f"a{gj}"].flatten(1).unsqueeze(1).expand(B, k, -1) for gj in range(len(ag.groups))]
    q = ag.critics[gi](_critic_input(t["state"], torch.cat(parts, 2), k, g.use_id))[..., 0]
    return -q.mean() + 1e-3 * (logits**2).mean()


def _flat_grad(module: torch.nn.Module) -> np.ndarray:
    return np.concatenate([p.grad.numpy().reshape(-1) for p in module.parameters()])


@pytest.mark.parametrize("scenario,overrides", CASES)
def test_critic_and_actor_gradients_match_autograd(scenario: str, overrides: dict) -> None:
    ag = agents.make("maddpg", scenario, seed=0, **overrides)
    with torch.no_grad():  # targets away from the online networks
        for p in ag.critics_t.parameters():
            p.add_(0.3 * torch.randn_like(p))
    b, noise = _batch(ag, 64, 1)
    gamma = ag.hparams["gamma"]
    B = len(b["state"])
    joint = np.concatenate([b[f"a{gi}"].reshape(B, -1) for gi in range(len(ag.groups))], 1)
    next_joint = np.random.default_rng(2).uniform(size=joint.shape).astype(np.float32)
    first = 0
    for gi, g in enumerate(ag.groups):
        k = len(g.agents)
        sl = slice(first, first + k)
        first += k
        # the critic
        st, nst = torch.as_tensor(b["state"]), torch.as_tensor(b["next_state"])
        with torch.no_grad():
            nq = ag.critics_t[gi](_critic_input(nst, torch.as_tensor(next_joint), k, g.use_id))[..., 0]
            y = torch.as_tensor(b["reward"][:, sl]) + gamma * (1 - torch.as_tensor(b["term"][:, sl])) * nq
        ag.critics[gi].zero_grad()
        want = ((ag.critics[gi](_critic_input(st, torch.as_tensor(joint), k, g.use_id))[..., 0] - y) ** 2).mean()
        want.backward()
        got = critic_gradients(ag._critics[gi], critic_inputs(b["state"], joint, k, g.use_id),
                               critic_inputs(b["next_state"], next_joint, k, g.use_id), b["reward"][:, sl],
                               b["term"][:, sl], gamma)
        assert got == pytest.approx(want.item(), rel=1e-5)
        expected = _flat_grad(ag.critics[gi])
        np.testing.assert_allclose(ag._critics[gi].grad, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
        # the actor
        ag.actors[gi].zero_grad()
        want = _autograd_actor_loss(ag, gi, b, noise[gi])
        want.backward()
        cols = ag._slices[gi]
        got = actor_gradients(ag._actors[gi], ag._critics[gi], b[f"x{gi}"], b["state"], joint[:, : cols.start],
                              joint[:, cols.stop :], g.discrete, g.use_id, noise[gi], ag.hparams["gumbel_temperature"])
        assert got == pytest.approx(want.item(), rel=1e-5)
        expected = _flat_grad(ag.actors[gi])
        np.testing.assert_allclose(ag._actors[gi].grad, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
        assert np.abs(expected).max() > 1e-4  # a real gradient


def test_policy_gradient_flows_through_each_agents_own_action_only() -> None:
    """With one actor shared by three agents, agent j's Q is differentiated through agent j's action alone
    (EPyMARL's maddpg_learner): the gradient is the detached-teammates loss's, not the full one's."""
    ag = agents.make("maddpg", "mpe/simple_spread_continuous-v3", seed=0, sharing="full")
    assert len(ag.groups) == 1 and len(ag.groups[0].agents) == 3
    b, _ = _batch(ag, 32, 0)
    empty = np.zeros((32, 0), np.float32)
    actor_gradients(ag._actors[0], ag._critics[0], b["x0"], b["state"], empty, empty, False, True, None, 1.0)
    got = ag._actors[0].grad.copy()
    for detach, close in ((True, True), (False, False)):
        ag.actors[0].zero_grad()
        _autograd_actor_loss(ag, 0, b, None, detach_teammates=detach).backward()
        want = _flat_grad(ag.actors[0])
        assert np.allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max()) == close


def test_polyak_averaging_moves_the_target_modules() -> None:
    ag = agents.make("maddpg", "mpe/simple_spread-v3", seed=0, tau=0.25)
    with torch.no_grad():
        for p in ag.actors[0].parameters():
            p.add_(1.0)
    before = [p.detach().clone() for p in ag.actors_t[0].parameters()]
    ag._actors[0].polyak(0.25)
    for p, pt, old in zip(ag.actors[0].parameters(), ag.actors_t[0].parameters(), before):
        torch.testing.assert_close(pt, 0.75 * old + 0.25 * p)


def test_target_actions_are_relaxed_samples_by_default_and_one_hot_when_greedy() -> None:
    x = np.zeros((64, 1, 18), np.float32)
    ag = agents.make("maddpg", "mpe/simple_spread-v3", seed=0)
    assert ag.hparams["target_actions"] == "sample"  # OpenAI's maddpg: act_pd.sample() of the target actor
    a1, a2 = ag.target_encoded(0, x), ag.target_encoded(0, x)
    assert not np.array_equal(a1, a2)  # a draw, not the argmax
    np.testing.assert_allclose(a1.sum(-1), 1.0, rtol=1e-6)
    assert (a1 < 1).any()  # relaxed (soft) samples
    greedy = agents.make("maddpg", "mpe/simple_spread-v3", seed=0, target_actions="greedy")
    g1 = greedy.target_encoded(0, x)
    assert np.array_equal(g1, greedy.target_encoded(0, x)) and set(np.unique(g1).tolist()) == {0.0, 1.0}


def test_gumbel_noise_stays_finite_where_the_exponential_draw_is_zero() -> None:
    class Zeros:
        def standard_exponential(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
            return np.zeros(shape, dtype)

    noise = gumbel_noise(Zeros(), (4, 5))
    assert np.isfinite(noise).all() and noise.dtype == np.float32
    draws = gumbel_noise(np.random.default_rng(0), (200_000,))
    assert abs(float(draws.mean()) - 0.5772) < 0.01  # the Euler-Mascheroni constant: standard Gumbel


def test_a_tiny_gumbel_temperature_gives_the_one_hot_not_nan() -> None:
    logits = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 5.0]], np.float32)
    noise = np.zeros_like(logits)
    # divided before the maximum is subtracted, 3 / 1e-40 overflows float32 and inf - inf is NaN
    np.testing.assert_array_equal(relaxed(logits, noise, 1e-40), [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    ag = agents.make("maddpg", "mpe/simple_spread-v3", seed=0, gumbel_temperature=1e-40, n_envs=2, learning_starts=8,
                     batch_size=8)
    ag.learn(40)  # updates through the straight-through estimator stay finite
    assert all(np.isfinite(p.detach().numpy()).all() for p in ag.actors.parameters())
