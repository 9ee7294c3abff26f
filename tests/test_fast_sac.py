"""fast_sac: hand-written gradients equal torch autograd's on SB3's SAC losses, its updates equal SB3's own
``SAC.train`` from the same weights, batches and noise, it learns on a tiny
budget, continues exactly, round-trips through checkpoints, and takes the SB3-backed sac's configs."""

import math

import numpy as np
import pytest
import torch

import agents
import scenarios
import testbed
from agents.fast_sac import LOG_STD_MAX, LOG_STD_MIN
from agents.numpy_mlp import MLPStack
from scenarios import UserError
from tests.spec_runs import run_spec

PEND = "classic/Pendulum-v1"
SMALL = {"policy_kwargs": {"net_arch": [64, 64]}, "batch_size": 64}


def _fwd(ws, bs, x, k):
    h = x
    for i in range(len(ws)):
        h = h @ ws[i][k] + bs[i][k]
        if i < len(ws) - 1:
            h = torch.relu(h)
    return h


def _grads(ws, bs):
    return np.concatenate([np.concatenate([w.grad.numpy().ravel(), b.grad.numpy().ravel()]) for w, b in zip(ws, bs)])


def test_stacked_mlp_gradients_equal_autograd():
    rng = np.random.default_rng(0)
    for activation in ("relu", "tanh"):
        net = MLPStack([5, 7, 6, 1], 3, activation, rng)
        x = rng.standard_normal((4, 5)).astype(np.float32)
        upstream = rng.standard_normal((3, 4, 1)).astype(np.float32)
        out, hs = net.forward(x)
        d_in = net.backward(hs, upstream, inputs=True)
        ws = [torch.tensor(w, requires_grad=True) for w in net.w]
        bs = [torch.tensor(b, requires_grad=True) for b in net.b]
        tx = torch.tensor(x, requires_grad=True)
        fn = torch.relu if activation == "relu" else torch.tanh
        ref = []
        for k in range(3):
            h = tx
            for i in range(3):
                h = h @ ws[i][k] + bs[i][k]
                if i < 2:
                    h = fn(h)
            ref.append(h)
        ref = torch.stack(ref)
        np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
        (ref * torch.tensor(upstream)).sum().backward(retain_graph=True)
        np.testing.assert_allclose(net.grad, _grads(ws, bs), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(d_in.sum(0), tx.grad.numpy(), rtol=1e-4, atol=1e-6)
        # one member per row (SAC's min over critics): the input gradient of sum_i d_sel[i] * out[pick[i], i]
        pick, d_sel = np.array([2, 0, 2, 1]), rng.standard_normal((4, 1)).astype(np.float32)
        tx.grad = None
        ref[torch.as_tensor(pick), torch.arange(4)].mul(torch.tensor(d_sel)).sum().backward()
        np.testing.assert_allclose(net.backward_selected(hs, d_sel, pick), tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_one_update_equals_sb3s_losses_under_autograd():
    """Critic gradient of 0.5 * sum_k MSE(Q_k, soft target) and the actor gradient of
    mean(alpha * logp - min_k Q_k) against the updated critics, as SB3's SAC.train computes them."""
    ag = agents.make("fast_sac", PEND, seed=0, learning_starts=10, batch_size=8)
    ag.learn(40)
    state = ag.rng.bit_generator.state
    obs, act, nxt, rew, term = ag._sample()
    eps = ag.rng.standard_normal((2 * len(obs), ag.n_act)).astype(np.float32)
    ag.rng.bit_generator.state = state
    aw, ab = [torch.tensor(w, requires_grad=True) for w in ag.actor.w], [torch.tensor(b, requires_grad=True) for b in ag.actor.b]
    cw, cb = [torch.tensor(w, requires_grad=True) for w in ag.critic.w], [torch.tensor(b, requires_grad=True) for b in ag.critic.b]
    tw, tb = [torch.tensor(w) for w in ag.target.w], [torch.tensor(b) for b in ag.target.b]
    B, A = len(obs), ag.n_act
    out = _fwd(aw, ab, torch.tensor(np.concatenate([obs, nxt])), 0)
    mean, log_std = out[:, :A], torch.clamp(out[:, A:], LOG_STD_MIN, LOG_STD_MAX)
    u = mean + log_std.exp() * torch.tensor(eps)
    a = torch.tanh(u)
    logp = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(1) - torch.log(1 - a**2 + 1e-6).sum(1)
    alpha = math.exp(float(ag.log_alpha[0]))
    log_alpha_before = float(ag.log_alpha[0])
    with torch.no_grad():
        xa = torch.cat([torch.tensor(nxt), a[B:]], 1)
        soft = torch.min(torch.stack([_fwd(tw, tb, xa, k)[:, 0] for k in range(2)]), 0).values - alpha * logp[B:]
        y = torch.tensor(rew) + (1 - torch.tensor(term)) * 0.99 * soft
    xa = torch.tensor(np.concatenate([obs, act], 1))
    (0.5 * sum(((_fwd(cw, cb, xa, k)[:, 0] - y) ** 2).mean() for k in range(2))).backward()
    ag._update(0)
    np.testing.assert_allclose(ag.critic.grad, _grads(cw, cb), rtol=1e-4, atol=1e-5)
    cw2, cb2 = [torch.tensor(w) for w in ag.critic.w], [torch.tensor(b) for b in ag.critic.b]
    q_pi = torch.min(torch.stack([_fwd(cw2, cb2, torch.cat([torch.tensor(obs), a[:B]], 1), k)[:, 0] for k in range(2)]), 0).values
    (alpha * logp[:B] - q_pi).mean().backward()
    np.testing.assert_allclose(ag.actor.grad, _grads(aw, ab), rtol=1e-4, atol=1e-5)
    # the entropy coefficient moved against (logp + target entropy), as Adam's first step does: by lr
    direction = -np.sign(-(logp[:B].detach().numpy() + ag.target_entropy).mean())
    assert np.sign(float(ag.log_alpha[0]) - log_alpha_before) == direction


def test_learns_pendulum_on_a_tiny_budget():
    rnd = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", PEND, seed=0), episodes=5, seed=9)])
    ag = agents.make("fast_sac", PEND, seed=0, **SMALL)
    ag.learn(6000)
    got = np.mean([r.team_return for r in testbed.evaluate(ag, episodes=5, seed=9)])
    assert got > rnd + 600, (got, rnd)  # random ~ -1200; a swing-up policy > -600
    assert ag.history and ag.history[-1]["ent_coef"] < 1.0


def test_continuation_and_checkpoints_are_exact(tmp_path):
    h = {**SMALL, "n_envs": 2, "learning_starts": 100, "normalize": True, "learning_rate": "lin_1e-3"}
    whole = agents.make("fast_sac", PEND, seed=3, total_steps=600, **h)
    whole.learn(600)
    parts = agents.make("fast_sac", PEND, seed=3, total_steps=600, **h)
    parts.learn(300)
    parts.learn(300)
    for a, b in ((whole.actor, parts.actor), (whole.critic, parts.critic), (whole.target, parts.target)):
        np.testing.assert_array_equal(a.flat, b.flat)
    path = parts.save(tmp_path / "ckpt")
    loaded = agents.load(path, PEND)
    for a, b in ((loaded.actor, parts.actor), (loaded.critic, parts.critic), (loaded.target, parts.target)):
        np.testing.assert_array_equal(a.flat, b.flat)
    assert loaded.actor_opt.state_arrays()["t"] == parts.actor_opt.state_arrays()["t"] == parts.updates
    np.testing.assert_array_equal(loaded.obs_stats.mean, parts.obs_stats.mean)
    obs = {"agent_0": np.random.default_rng(0).standard_normal((3, 3)).astype(np.float32)}
    np.testing.assert_array_equal(loaded.act(obs)["agent_0"], parts.act(obs)["agent_0"])
    assert loaded.steps_trained == 600 and float(loaded.log_alpha[0]) == float(parts.log_alpha[0])


def test_takes_the_sb3_sacs_config_and_refuses_what_it_does_not_implement():
    sac = agents.make("sac", PEND, seed=0, learning_rate="lin_3e-4", tau=0.01)
    fast = agents.make("fast_sac", PEND, seed=0, learning_rate="lin_3e-4", tau=0.01)
    assert {k: fast.hparams[k] for k in sac.hparams} == sac.hparams
    assert type(fast).default_hyperparameters() == type(sac).default_hyperparameters()
    for bad, match in (({"use_sde": True}, "does not implement use_sde"), ({"n_steps": 3}, "does not implement n_steps"),
                       ({"train_freq": [1, "episode"]}, r"train_freq must be an integer >= 1 \(or a list \[N, step\]\)"),
                       ({"ent_coef": "fixed"}, "ent_coef"),
                       ({"her": True}, "her needs a one-agent goal-conditioned scenario")):
        with pytest.raises(UserError, match=match):
            agents.make("fast_sac", PEND, **bad)
    with pytest.raises(UserError, match="continuous actions only"):
        agents.make("fast_sac", "classic/CartPole-v1")


def test_fixed_entropy_coefficient_and_action_noise():
    ag = agents.make("fast_sac", PEND, seed=0, ent_coef=0.05, action_noise={"type": "ornstein_uhlenbeck", "std": 0.3},
                     learning_starts=50, **SMALL)
    ag.learn(200)
    assert math.isclose(ag._alpha(), 0.05, rel_tol=1e-6)
    assert np.abs(ag.replay["act"][: ag.pos]).max() <= 1.0


@pytest.mark.parametrize("name", ["fast_sac", "sac"])
def test_an_entropy_coefficient_of_zero_trains_and_a_zero_initial_one_is_refused(name):
    """``ent_coef: 0`` (no entropy term; the field allows it) failed at fast_sac's log(0);
    ``auto_0`` and ``auto_.`` passed the field's pattern and failed inside either learner."""
    ag = agents.make(name, PEND, seed=0, ent_coef=0, learning_starts=50, **SMALL)
    ag.learn(100)
    for bad in ("auto_0", "auto_0.0", "auto_."):
        with pytest.raises(UserError, match=r"ent_coef must be .*auto_<init in \(0, 3.4e\+38\]>"):
            agents.make(name, PEND, ent_coef=bad)


def test_multi_agent_scenarios_share_one_network():
    sid = "mamujoco/HalfCheetah-2x3-v1"
    ag = agents.make("fast_sac", sid, seed=0, n_envs=2, learning_starts=20, **SMALL)
    ag.learn(60)
    assert ag.steps_trained == 60 and ag.pos == 2 * 2 * 30
    acts = ag.act({a: np.zeros((2, *ag.scenario.observation_space(a).shape), np.float32) for a in ag.scenario.possible_agents})
    assert set(acts) == set(ag.scenario.possible_agents) and all(v.shape == (2, 3) for v in acts.values())


@pytest.mark.slow  # 15 s: a CLI subprocess; the spec path is the one every agent takes (tests/test_experiments.py)
def test_an_experiment_spec_trains_it_and_logs_to_tensorboard(tmp_path):
    tags = run_spec(tmp_path, "fast_sac", {**SMALL, "learning_starts": 200}, scenario=PEND, steps=1200)
    assert {"train/episode_return", "eval/mean_team_return"} <= tags


REACH = "robotics/FetchReach-v4"


def test_her_on_a_goal_task_relabels_with_the_sources_reward():
    """FetchReach: every stored row's reward is the source's ``compute_reward`` at its own goal, and
    4 relabelled rows join each real one."""
    from agents.hindsight import goal_slice

    ag = agents.make("fast_sac", REACH, seed=0, her=True, learning_starts=200, batch_size=32,
                     policy_kwargs={"net_arch": [32]})
    ag.learn(600)
    assert ag.pos == 600 * 5 and not ag.full  # 1 real + n_sampled_goal relabelled per step
    space = ag.goal_space
    g, a = goal_slice(space), goal_slice(space, "achieved_goal")
    rp = ag.replay
    want = ag.scenario.compute_reward(rp["next"][: ag.pos, a], rp["next"][: ag.pos, g], {})
    np.testing.assert_array_equal(rp["rew"][: ag.pos], want)
    goals = rp["next"][: ag.pos, g]
    assert len(np.unique(goals.round(5), axis=0)) > 100  # goals the episodes achieved, not their few desired ones
    assert (rp["rew"][: ag.pos] == 0).mean() > 0.1  # hindsight successes, where real ones are rare at first


@pytest.mark.slow  # 16-25 s; HER's learning stays in the default run on bit flipping (tests/test_hindsight.py)
def test_her_on_a_goal_task_learns_at_sac_yamls_settings():
    """FetchReach at sac.yaml's rl-zoo settings: 5,000 steps reach the goal in most episodes."""
    ag = agents.make("fast_sac", REACH, seed=0, her=True)
    ag.learn(5000)
    recs = testbed.evaluate(ag, REACH, episodes=20, seed=1000, num_envs=4)
    assert np.mean([bool(r.success) for r in recs]) >= 0.8  # 1.0 for seeds 0 and 1; random: 0.0-0.1


def test_her_training_continues_exactly_and_refuses_bad_settings():
    h = {"her": True, "learning_starts": 100, "batch_size": 32, "policy_kwargs": {"net_arch": [32]}, "n_envs": 2}
    whole = agents.make("fast_sac", REACH, seed=1, **h)
    whole.learn(240)
    parts = agents.make("fast_sac", REACH, seed=1, **h)
    parts.learn(130)  # mid-episode: the episodes in flight are relabelled when they end, in the next call
    parts.learn(110)
    for x, y in ((whole.actor, parts.actor), (whole.critic, parts.critic)):
        np.testing.assert_array_equal(x.flat, y.flat)
    np.testing.assert_array_equal(whole.replay["next"], parts.replay["next"])
    for bad, match in (({"n_sampled_goal": 0}, "n_sampled_goal must be an integer >= 1"),
                       ({"goal_selection_strategy": "past"}, "goal_selection_strategy must be one of future, final, episode, got 'past'")):
        with pytest.raises(UserError, match=match):
            agents.make("fast_sac", REACH, her=True, **bad)
    with pytest.raises(UserError, match="needs flat observations"):  # reinforce keeps refusing Dicts (fast_ppo, a3c take them)
        agents.make("reinforce", REACH)


def test_updates_equal_sb3s_own_train_from_the_same_weights_batches_and_noise(monkeypatch):
    """Three gradient steps of ours and of SB3's ``SAC.train`` (its own code: entropy coefficient,
    critic, actor, Polyak, in its order) from one set of weights on one replay, with the same batch
    indices and Gaussian draws: actor, critics, targets and log alpha agree to float32 rounding."""
    from stable_baselines3.common.logger import configure

    from agents.fast_sac import FastSAC
    from agents.sb3_agent import SACAgent

    sc = scenarios.make("mujoco/Hopper-v5")
    ours, model = FastSAC(sc, seed=0), SACAgent(sc, seed=0)._build()
    ours._start()
    model.set_logger(configure(None, [""]))
    A, D, B, N, steps = 3, 11, 256, 2000, 3
    g = np.random.default_rng(1)
    obs, nxt = g.normal(size=(2, N, D)).astype(np.float32)
    act, rew = g.uniform(-1, 1, (N, A)).astype(np.float32), g.normal(size=N).astype(np.float32)
    term = (g.random(N) < 0.1).astype(np.float32)
    trunc = ((g.random(N) < 0.1) & (term == 0)).astype(np.float32)  # SB3 bootstraps these (timeouts)
    rp = ours.replay
    rp["obs"][:N], rp["next"][:N], rp["act"][:N], rp["rew"][:N], rp["term"][:N] = obs, nxt, act, rew, term
    ours.pos = N
    rb = model.replay_buffer
    rb.observations[:N, 0], rb.next_observations[:N, 0], rb.actions[:N, 0] = obs, nxt, act
    rb.rewards[:N, 0], rb.dones[:N, 0], rb.timeouts[:N, 0], rb.pos = rew, np.maximum(term, trunc), trunc, N
    pol = model.policy
    with torch.no_grad():  # our weights into SB3's networks (ours: one 2A-wide head = SB3's mu and log_std)
        heads = [pol.actor.latent_pi[0], pol.actor.latent_pi[2]]
        for k, lin in enumerate(heads):
            lin.weight.copy_(torch.from_numpy(ours.actor.w[k][0].T.copy()))
            lin.bias.copy_(torch.from_numpy(ours.actor.b[k][0, 0].copy()))
        for lin, cols in ((pol.actor.mu, slice(0, A)), (pol.actor.log_std, slice(A, 2 * A))):
            lin.weight.copy_(torch.from_numpy(ours.actor.w[2][0][:, cols].T.copy()))
            lin.bias.copy_(torch.from_numpy(ours.actor.b[2][0, 0, cols].copy()))
        for net, stack in ((pol.critic, ours.critic), (pol.critic_target, ours.target)):
            for m, q in enumerate(net.q_networks):
                for k, lin in enumerate([q[0], q[2], q[4]]):
                    lin.weight.copy_(torch.from_numpy(stack.w[k][m].T.copy()))
                    lin.bias.copy_(torch.from_numpy(stack.b[k][m, 0].copy()))
    idx = [g.integers(0, N, B) for _ in range(steps)]
    eps = [g.normal(size=(2 * B, A)).astype(np.float32) for _ in range(steps)]

    class Draws:  # our generator's two calls per update: batch indices, then the Gaussian noise
        t = 0

        def integers(self, lo, hi, n):
            return idx[self.t]

        def standard_normal(self, shape):
            self.t += 1
            return eps[self.t - 1].astype(np.float64)

    ours.rng = Draws()
    sb3_idx, sb3_eps = list(idx), [e for t in range(steps) for e in (eps[t][:B], eps[t][B:])]
    monkeypatch.setattr(np.random, "randint",  # SB3's replay draws rows, then env indices (one env: zeros)
                        lambda lo, high=None, size=None: np.zeros(size, int) if high == 1 else sb3_idx.pop(0))
    monkeypatch.setattr(torch.distributions.Normal, "rsample",
                        lambda self, shape=torch.Size(): self.loc + self.scale * torch.from_numpy(sb3_eps.pop(0)))
    actor0 = ours.actor.flat.copy()
    for _ in range(steps):
        model.train(gradient_steps=1, batch_size=B)
        ours._update(0)
    assert not sb3_idx and not sb3_eps  # SB3 used exactly the draws given

    def close(ours_w, sb3_w, ref):
        # Adam's step on a weight whose gradient is ~1e-8 (its eps) turns on float rounding: of the actor's
        # 65,536 second-layer weights one moved 1.2e-5 apart in three steps, every other weight agrees to ~1e-8
        assert (np.abs(ours_w - sb3_w) > 1e-3 * ref).mean() < 1e-4

    moved = np.abs(ours.actor.flat - actor0).max()
    assert moved > 1e-4
    for k, lin in enumerate(heads):
        close(ours.actor.w[k][0], lin.weight.detach().numpy().T, moved)
    close(ours.actor.w[2][0][:, A:], pol.actor.log_std.weight.detach().numpy().T, moved)
    close(ours.actor.w[2][0][:, :A], pol.actor.mu.weight.detach().numpy().T, moved)
    for net, stack in ((pol.critic, ours.critic), (pol.critic_target, ours.target)):
        for m, q in enumerate(net.q_networks):
            for k, lin in enumerate([q[0], q[2], q[4]]):
                close(stack.w[k][m], lin.weight.detach().numpy().T, moved)
    assert abs(float(model.log_ent_coef.detach()[0]) - float(ours.log_alpha[0])) < 1e-6
