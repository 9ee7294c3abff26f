"""fast_ppo: hand-written gradients equal torch autograd's, it learns on tiny budgets, continues
exactly, and takes the SB3-backed ppo's configs."""

import numpy as np
import pytest
import torch

import agents
import testbed
from agents.numpy_policy import Adam, NumpyPolicy, clip_grad_norm
from scenarios import UserError


def _torch_loss(policy, x, act, old_logp, adv, ret, old_v, clip, clip_vf, ent_coef, vf_coef):
    """SB3's PPO loss in torch over the same parameters (the reference for the gradients)."""
    params = {k: torch.tensor(v, requires_grad=True) for k, v in policy.p.items()}

    def mlp(net, h):
        n = policy.layers[net]
        for k in range(n):
            h = h @ params[f"{net}.w{k}"] + params[f"{net}.b{k}"]
            if k < n - 1:
                h = torch.tanh(h)
        return h

    out, v = mlp("pi", torch.tensor(x)), mlp("vf", torch.tensor(x))[:, 0]
    if policy.discrete:
        dist = torch.distributions.Categorical(logits=out)
        logp, ent = dist.log_prob(torch.tensor(act).long()), dist.entropy()
    else:
        dist = torch.distributions.Normal(out, params["log_std"].exp())
        logp, ent = dist.log_prob(torch.tensor(act)).sum(1), dist.entropy().sum(1)
    a = torch.tensor(adv)
    a = (a - a.mean()) / (a.std() + 1e-8)
    ratio = torch.exp(logp - torch.tensor(old_logp))
    pg = -torch.min(a * ratio, a * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
    old = torch.tensor(old_v)
    v_used = old + torch.clamp(v - old, -clip_vf, clip_vf) if clip_vf else v
    loss = pg + ent_coef * (-ent.mean()) + vf_coef * ((torch.tensor(ret) - v_used) ** 2).mean()
    loss.backward()
    return {k: p.grad.numpy() for k, p in params.items()}


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("clip_vf", [None, 0.2])
def test_gradients_equal_torch_autograd(discrete, clip_vf):
    rng = np.random.default_rng(0)
    n_in, n_out, rows = 5, 3, 32
    pol = NumpyPolicy(n_in, n_out, discrete, [16, 8], [12], "tanh", -0.3, True, rng)
    for v in pol.p.values():  # move off the init so the heads' gradients are not tiny
        v += 0.3 * rng.standard_normal(v.shape).astype(np.float32)
    x = rng.standard_normal((rows, n_in)).astype(np.float32)
    act = (rng.integers(0, n_out, rows) if discrete else rng.standard_normal((rows, n_out))).astype(np.float32)
    out, values, cache = pol.forward(x)
    logp, aux = pol.log_prob(out, act)
    old_logp = (logp + 0.3 * rng.standard_normal(rows)).astype(np.float32)  # ratios inside and outside the clip range
    adv = rng.standard_normal(rows).astype(np.float32)
    ret = rng.standard_normal(rows).astype(np.float32)
    old_v = (values + 0.3 * rng.standard_normal(rows)).astype(np.float32)
    clip, ent_coef, vf_coef = 0.2, 0.05, 0.5
    want = _torch_loss(pol, x, act, old_logp, adv, ret, old_v, clip, clip_vf, ent_coef, vf_coef)
    a = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
    ratio = np.exp(logp - old_logp)
    clipped = np.clip(ratio, 1 - clip, 1 + clip)
    through = (a * ratio < a * clipped) | ((ratio >= 1 - clip) & (ratio <= 1 + clip))
    used = old_v + np.clip(values - old_v, -clip_vf, clip_vf) if clip_vf else values
    passes = ((values - old_v >= -clip_vf) & (values - old_v <= clip_vf)) if clip_vf else True
    pol.backward(cache, aux, -(a * ratio * through) / rows, -ent_coef, (-2 * vf_coef / rows) * (ret - used) * passes)
    for k, g in want.items():
        np.testing.assert_allclose(pol.g[k], g, rtol=2e-4, atol=2e-6, err_msg=k)


def test_adam_and_clipping_match_torch():
    rng = np.random.default_rng(1)
    start = rng.standard_normal(50).astype(np.float32)
    ours, adam = start.copy(), Adam(50, eps=1e-5)
    ref = torch.tensor(start, requires_grad=True)
    opt = torch.optim.Adam([ref], lr=1e-2, eps=1e-5)
    for _ in range(20):
        g = rng.standard_normal(50).astype(np.float32) * 3
        mine = g.copy()
        clip_grad_norm(mine, 0.5)
        adam.step(ours, mine, 1e-2)
        ref.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_([ref], 0.5)
        opt.step()
    np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sid, steps, bar", [("classic/CartPole-v1", 25_000, 300.0), ("mujoco/InvertedPendulum-v5", 20_000, 500.0)])
def test_learns_on_a_tiny_budget(sid, steps, bar):
    rnd = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", sid, seed=0), episodes=5, seed=9)])
    ag = agents.make("fast_ppo", sid, seed=0)
    ag.learn(steps)
    got = np.mean([r.team_return for r in testbed.evaluate(ag, episodes=5, seed=9)])
    assert got > bar > 3 * rnd, (got, rnd)


def test_continuation_and_checkpoints_are_exact(tmp_path):
    sid, h = "mujoco/InvertedPendulum-v5", {"n_envs": 2, "n_steps": 64, "batch_size": 32, "n_epochs": 2, "normalize": True}
    whole = agents.make("fast_ppo", sid, seed=3, total_steps=1024, **h)
    whole.learn(1024)
    parts = agents.make("fast_ppo", sid, seed=3, total_steps=1024, **h)
    parts.learn(512)
    parts.learn(512)
    np.testing.assert_array_equal(whole.model.flat, parts.model.flat)
    half = agents.make("fast_ppo", sid, seed=3, total_steps=1024, **h)
    half.learn(512)
    path = half.save(tmp_path / "ckpt")
    loaded = agents.load(path, sid)
    np.testing.assert_array_equal(loaded.model.flat, half.model.flat)
    np.testing.assert_array_equal(loaded.obs_stats.mean, half.obs_stats.mean)
    assert loaded.optimizer.t == half.optimizer.t and loaded.steps_trained == 512
    obs = {"agent_0": np.zeros((3, 4), np.float32)}
    np.testing.assert_array_equal(loaded.act(obs)["agent_0"], half.act(obs)["agent_0"])


def test_takes_the_sb3_ppos_config_and_refuses_what_it_does_not_implement():
    ppo = agents.make("ppo", "mujoco/Hopper-v5", seed=0, learning_rate="lin_3e-4", clip_range=0.1)
    fast = agents.make("fast_ppo", "mujoco/Hopper-v5", seed=0, learning_rate="lin_3e-4", clip_range=0.1)
    shared = {k: v for k, v in ppo.hparams.items() if k in fast.hparams}
    assert shared == {k: fast.hparams[k] for k in shared} and {"learning_rate", "clip_range", "n_steps"} <= set(shared)
    ppo_defaults = type(ppo).default_hyperparameters()
    assert {k: type(fast).default_hyperparameters()[k] for k in ppo_defaults} == ppo_defaults
    with pytest.raises(UserError, match="does not implement use_sde"):
        agents.make("fast_ppo", "mujoco/Hopper-v5", use_sde=True)
    with pytest.raises(UserError, match="batch_size 4096 is larger than the rollout"):
        agents.make("fast_ppo", "mujoco/Hopper-v5", batch_size=4096, n_steps=64)


def test_multi_agent_scenarios_share_one_network():
    ag = agents.make("fast_ppo", "mpe/simple_spread-v3", seed=0, n_envs=2, n_steps=32, batch_size=64, n_epochs=1)
    ag.learn(256)
    acts = ag.act({a: np.zeros((2, *ag.scenario.observation_space(a).shape), np.float32) for a in ag.scenario.possible_agents})
    assert set(acts) == set(ag.scenario.possible_agents) and all(len(v) == 2 for v in acts.values())


def test_discrete_observations_are_one_hot_rows_as_sb3_feeds_them_and_toy_text_trains():
    """fast_ppo (and a3c, impala) refused Discrete observations, which SB3's ppo one-hot encodes: the toy-text
    tasks SB3's ppo trains on were closed to the lean learner that takes its configs."""
    from gymnasium import spaces
    from stable_baselines3.common.preprocessing import preprocess_obs

    from agents.actor_critic import encode, encoded_width

    for space in (spaces.Discrete(5), spaces.Discrete(4, start=2), spaces.MultiDiscrete([3, 2, 4]), spaces.MultiBinary(6),
                  spaces.Box(-1, 1, (2, 3))):
        space.seed(0)
        batch = np.stack([space.sample() for _ in range(7)])
        if isinstance(space, spaces.Discrete) and space.start:  # SB3 one-hot encodes the raw value (start 0 only)
            want = torch.nn.functional.one_hot(torch.as_tensor(batch - space.start), int(space.n)).float()
        else:
            want = preprocess_obs(torch.as_tensor(batch), space, normalize_images=False).reshape(7, -1)
        np.testing.assert_array_equal(encode(space, batch), want.numpy())
        assert encoded_width(space) == want.shape[1]
    sid = "toytext/CliffWalking-v1"
    rnd = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", sid, seed=0), episodes=3, seed=9)])
    ag = agents.make("fast_ppo", sid, seed=0, n_envs=8, n_steps=32, batch_size=64)
    ag.learn(2048)
    got = np.mean([r.team_return for r in testbed.evaluate(ag, episodes=3, seed=9)])
    assert got > 5 * rnd, (got, rnd)  # random walks off the cliff again and again (~ -2300); -200 or better here


def test_goal_conditioned_dict_observations_are_flattened_as_for_fast_sac(tmp_path):
    """fast_ppo asked for a goal_flatten layer on the goal tasks SB3's ppo takes (MultiInputPolicy); its lanes
    flatten goal Dicts (scenarios.goals.flatten) as fast_sac's do."""
    from scenarios.goals import flatten

    sid = "robotics/FetchReach-v4"
    ag = agents.make("fast_ppo", sid, seed=0, n_envs=2, n_steps=16, batch_size=32, normalize=True)
    ag.learn(64)
    obs, _ = ag.scenario.vector(2, seed=1).reset()
    np.testing.assert_array_equal(ag.lanes.obs(obs).numpy(), flatten(ag.scenario.observation_space("agent_0"), obs["agent_0"]).astype(np.float32))
    before = [r.team_return for r in testbed.evaluate(ag, episodes=2, seed=1)]
    loaded = agents.load(ag.save(tmp_path / "reach"), sid)
    assert [r.team_return for r in testbed.evaluate(loaded, episodes=2, seed=1)] == before
