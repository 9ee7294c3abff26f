"""The learned-model agents' own arithmetic, against stub models with known outputs: PETS's
trajectory sampling (particles spread evenly over members, stopped at predicted termination),
MBVE's expanded critic target, MBPO's branched rollouts."""

import numpy as np
import pytest
import torch

import agents
import scenarios
from agents.sac_core import SACCore

IP = "mujoco/InvertedPendulum-v5"
TINY = {"model_arch": [8], "net_arch": [8], "ensemble_size": 2}


def test_pets_particles_spread_over_members_and_stop_at_predicted_termination(monkeypatch):
    ag = agents.make("pets", IP, seed=0, model_arch=[8], ensemble_size=2, particles=4, horizon=3, termination="learned")

    def predict(obs, act, gen=None):  # member m earns m + 1 a step; a state whose first entry passes 2 ends
        e = obs.shape[0]
        reward = (torch.arange(e, dtype=torch.float32) + 1)[:, None].expand(obs.shape[:2])
        nxt = obs + 1.0
        return nxt, reward, (nxt[..., 0] >= 2).float()

    monkeypatch.setattr(ag.model, "predict", predict)
    obs = torch.tensor([[0.0, 0, 0, 0], [5.0, 0, 0, 0]])
    ret = ag.returns(obs, torch.zeros(2, 3, 3, 1), torch.Generator().manual_seed(0))
    # row 0: the second step reaches 2 and ends (its reward counts, then nothing): mean over the two
    # members (two particles each) of 2 (m + 1) = 3.0; row 1: the first step already ends: 1.5
    torch.testing.assert_close(ret, torch.tensor([[3.0] * 3, [1.5] * 3]))
    monkeypatch.setattr(ag.model, "predict", lambda obs, act, gen=None: (obs, torch.ones(obs.shape[:2]),
                                                                        torch.full(obs.shape[:2], 0.2)))
    # a termination probability of 0.2 each step: rewards weighted by survival 1, 0.8, 0.64
    torch.testing.assert_close(ag.returns(obs, torch.zeros(2, 3, 3, 1), None), torch.full((2, 3), 2.44))
    with pytest.raises(scenarios.UserError, match="particles 3 must be a multiple of ensemble_size 2"):
        agents.make("pets", IP, ensemble_size=2, particles=3)


def test_pets_uncertainty_penalty_subtracts_the_predicted_spread_and_plans_where_the_model_is_sure(monkeypatch):
    ag = agents.make("pets", IP, seed=0, model_arch=[8], ensemble_size=2, particles=4, horizon=3, termination="learned",
                     uncertainty_penalty=2.0)
    obs, act = torch.zeros(2, 3, 4), torch.zeros(2, 3, 1)
    np.testing.assert_array_equal(torch.cat([x.reshape(-1) for x in ag.model.predict(obs, act)]).detach().numpy(),
                                  torch.cat([x.reshape(-1) for x in ag.model.predict_spread(obs, act)[:3]]).detach().numpy())

    def unsure(obs, act, gen=None):  # one reward everywhere; the spread grows away from a = 0.5
        return obs, torch.ones(obs.shape[:2]), torch.zeros(obs.shape[:2]), 4.0 * (act[..., 0] - 0.5) ** 2

    monkeypatch.setattr(ag.model, "predict_spread", unsure)
    torch.testing.assert_close(ag.returns(torch.zeros(1, 4), torch.zeros(1, 2, 3, 1), None),
                               torch.full((1, 2), 3 * (1.0 - 2.0 * 1.0)))  # spread 1 at a = 0, three steps
    ag.fitted = True
    first = {}
    for penalty in (0.0, 2.0):
        ag.hparams["uncertainty_penalty"] = penalty
        ag.reset_memory()
        first[penalty] = [float(ag.act({"agent_0": np.zeros((1, 4), np.float32)})["agent_0"][0, 0]) for _ in range(3)]
    assert max(abs(a - 0.5) for a in first[2.0]) < 0.25, first  # the planner goes where the model is sure
    assert max(abs(a - 0.5) for a in first[0.0]) > 0.3, first  # indifferent without the penalty
    with pytest.raises(scenarios.UserError, match="uncertainty_penalty must be a number >= 0"):
        agents.make("pets", IP, uncertainty_penalty=-1.0)


def test_pets_cvar_scores_a_candidate_by_its_worst_particles_and_plans_away_from_disagreement(monkeypatch):
    ag = agents.make("pets", IP, seed=0, model_arch=[8], ensemble_size=2, particles=4, horizon=3, termination="learned",
                     cvar=0.5)

    def predict(obs, act, gen=None):  # member m earns m + 1 a step; a state whose first entry passes 2 ends
        e = obs.shape[0]
        nxt = obs + 1.0
        return nxt, (torch.arange(e, dtype=torch.float32) + 1)[:, None].expand(obs.shape[:2]), (nxt[..., 0] >= 2).float()

    monkeypatch.setattr(ag.model, "predict", predict)
    obs = torch.tensor([[0.0, 0, 0, 0], [5.0, 0, 0, 0]])
    # the worst half of the 4 particles are member 0's: 1 + 1 for row 0 (the risk-neutral mean: 3.0), 1 for row 1 (1.5)
    torch.testing.assert_close(ag.returns(obs, torch.zeros(2, 3, 3, 1), None), torch.tensor([[2.0] * 3, [1.0] * 3]))
    ag.hparams["cvar"] = 0.25  # one particle of four: still one of member 0's
    torch.testing.assert_close(ag.returns(obs, torch.zeros(2, 3, 3, 1), None), torch.tensor([[2.0] * 3, [1.0] * 3]))

    def disagree(obs, act, gen=None):  # member 0 earns 1 - 2a, member 1 earns 1 + 3a: the mean grows with a
        slope = torch.tensor([-2.0, 3.0])[:, None]
        return obs, 1.0 + slope * act[..., 0], torch.zeros(obs.shape[:2])

    monkeypatch.setattr(ag.model, "predict", disagree)
    ag.fitted = True
    first = {}
    for cvar in (1.0, 0.5):
        ag.hparams["cvar"] = cvar
        ag.reset_memory()
        first[cvar] = float(ag.act({"agent_0": np.zeros((1, 4), np.float32)})["agent_0"][0, 0])
    assert first[1.0] > 1.5  # risk-neutral: towards the action range's end (3), where the mean is highest
    assert abs(first[0.5]) < 0.5  # the worst member's return, min(1 - 2a, 1 + 3a), is highest at a = 0
    with pytest.raises(scenarios.UserError, match="cvar"):
        agents.make("pets", IP, cvar=0.0)


def test_pets_propagation_samples_each_members_gaussian_or_follows_its_mean():
    obs, cand = torch.zeros(1, 4), torch.zeros(1, 3, 5, 1)
    for propagation, differs in (("sample", True), ("mean", False)):
        ag = agents.make("pets", IP, seed=0, model_arch=[8], ensemble_size=2, particles=4, horizon=5,
                         propagation=propagation)
        with torch.no_grad():
            ag.model.net.max_logvar.fill_(2.0)  # wide predicted noise, so sampling it shows
            ag.model.net.min_logvar.fill_(1.0)
        a, b = (ag.returns(obs, cand, torch.Generator().manual_seed(s)) for s in (0, 1))
        assert bool((a != b).any()) is differs, propagation  # only sampling depends on the generator


def test_pets_known_termination_replaces_the_learned_head_where_the_scenario_has_one(monkeypatch):
    ag = agents.make("pets", IP, seed=0, model_arch=[8], ensemble_size=2, particles=4, horizon=3, termination="known")
    assert ag.termination_fn is not None
    assert agents.make("pets", IP, model_arch=[8]).termination_fn is None  # the default: learned
    assert agents.make("pets", IP, model_arch=[8], termination=None).termination_fn is not None  # null: known where there is one
    # the model moves the pole angle (entry 1) by 0.15 a step and says nothing ends (p_end 0): the
    # known function ends a particle once |angle| > 0.2, i.e. after its second step
    monkeypatch.setattr(ag.model, "predict", lambda obs, act, gen=None: (
        obs + torch.tensor([0.0, 0.15, 0, 0]), torch.ones(obs.shape[:2]), torch.zeros(obs.shape[:2])))
    torch.testing.assert_close(ag.returns(torch.zeros(1, 4), torch.zeros(1, 2, 3, 1), None), torch.full((1, 2), 2.0))
    assert agents.make("pets", "mujoco/HalfCheetah-v5", model_arch=[8]).termination_fn is None  # learned
    assert agents.make("pets", IP, model_arch=[8], termination="learned").termination_fn is None
    with pytest.raises(scenarios.UserError, match="has no known termination function"):  # observation layers
        agents.make("pets", "mujoco/Hopper-hard-v0", termination="known")
    assert agents.make("pets", "mujoco/HalfCheetah-v5", model_arch=[8], termination="known").termination_fn is not None
    with pytest.raises(scenarios.UserError, match="termination"):
        agents.make("pets", IP, termination="sometimes")


def test_mbve_target_expands_through_the_model_and_h0_is_the_soft_target(monkeypatch):
    ag = agents.make("mbve", IP, seed=0, **TINY, expansion_horizon=2, gamma=0.5, termination="learned")
    with torch.no_grad():
        ag.sac.log_alpha.fill_(-100.0)  # no entropy terms: the expansion's arithmetic alone

    def predict(obs, act, gen=None):  # next = s + 1, reward 2, termination where s[0] reaches 10
        nxt = obs + 1.0
        return nxt, torch.full(obs.shape[:2], 2.0), (nxt[..., 0] >= 10).float()

    monkeypatch.setattr(ag.model, "predict", predict)
    monkeypatch.setattr(ag.sac, "soft_value", lambda s, gen: s[:, 0])
    rew = torch.tensor([1.0, 1.0, 1.0])
    nxt = torch.tensor([[0.0] * 4, [0.0] * 4, [8.0, 0, 0, 0]])
    term = torch.tensor([0.0, 1.0, 0.0])
    y = ag.expanded_target(rew, nxt, term)
    # row 0: 1 + 0.5 * 2 + 0.25 * 2 + 0.125 * V(s' + 2 = 2) = 2.75; row 1: terminated: 1;
    # row 2: the first model step ends at 9? no: 8 + 1 = 9 goes on, 10 ends: 1 + 1 + 0.5 = 2.5, then nothing
    torch.testing.assert_close(y, torch.tensor([2.75, 1.0, 2.5]))
    ag.hparams["expansion_horizon"] = 0
    torch.testing.assert_close(ag.expanded_target(rew, nxt, term), rew + 0.5 * (1 - term) * nxt[:, 0])
    assert not ag.needs_model()


def test_mbve_td_k_fits_the_critic_on_the_imagined_pairs_towards_their_own_tails(monkeypatch):
    ag = agents.make("mbve", IP, seed=0, **TINY, expansion_horizon=2, gamma=0.5, termination="learned", td_k=True)
    with torch.no_grad():
        ag.sac.log_alpha.fill_(-100.0)

    def predict(obs, act, gen=None):  # next = s + 1, reward 2, termination where s[0] reaches 10
        nxt = obs + 1.0
        return nxt, torch.full(obs.shape[:2], 2.0), (nxt[..., 0] >= 10).float()

    monkeypatch.setattr(ag.model, "predict", predict)
    monkeypatch.setattr(ag.sac, "soft_value", lambda s, gen: s[:, 0])
    rew, term = torch.ones(3), torch.tensor([0.0, 1.0, 0.0])
    nxt = torch.tensor([[0.0] * 4, [0.0] * 4, [8.0, 0, 0, 0]])
    target, (obs, _, targets, weights) = ag.expand(rew, nxt, term, rows=True)
    torch.testing.assert_close(target, torch.tensor([2.75, 1.0, 2.5]))  # as without td_k
    torch.testing.assert_close(obs[:, 0], torch.tensor([0.0, 0.0, 8.0, 1.0, 1.0, 9.0]))  # s_1 rows, then s_2 rows
    # s_2 = 1: 2 + 0.5 V(2) = 3; s_1 = 0: 2 + 0.5 * 3 = 3.5; row 2: s_2 = 9 steps to 10, which ends: 2; s_1 = 8: 3
    torch.testing.assert_close(targets, torch.tensor([3.5, 3.5, 3.0, 3.0, 3.0, 2.0]))
    torch.testing.assert_close(weights, torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]))  # row 1 ended for real
    seen = {}
    monkeypatch.setattr(ag.sac, "update", lambda *args, **kw: seen.update(kw))
    monkeypatch.setattr(ag, "real_batch", lambda size: (torch.zeros(3, 4), torch.zeros(3, 1), rew, nxt, term))
    ag.train_step()
    torch.testing.assert_close(seen["extra"][2], targets)
    torch.testing.assert_close(seen["target"], target)
    ag.hparams["td_k"] = False
    ag.train_step()
    assert seen["extra"] is None
    torch.testing.assert_close(seen["target"], target)


def test_sac_core_extra_critic_rows_count_by_weight():
    rows = [torch.randn(16, 3), torch.rand(16, 1) * 2 - 1, torch.randn(16), torch.randn(16, 3), torch.zeros(16)]
    x_obs, x_act, x_target = torch.randn(8, 3), torch.rand(8, 1) * 2 - 1, torch.full((8,), 50.0)

    def critic_after(extra):
        core = SACCore(3, 1, [8], seed=0)
        core.update(*rows, torch.Generator().manual_seed(0), target=rows[2], extra=extra)
        return torch.cat([p.detach().reshape(-1) for p in core.critics.parameters()])

    plain = critic_after(None)
    torch.testing.assert_close(critic_after((x_obs, x_act, x_target, torch.zeros(8))), plain)  # weight 0: no effect
    assert not torch.allclose(critic_after((x_obs, x_act, x_target, torch.ones(8))), plain)


def test_sac_core_uses_the_entropy_coefficient_before_its_step_as_sb3_does():
    """SB3 reads alpha before stepping it and uses that value in the same update's critic target and
    actor loss: a huge entropy-coefficient learning rate then changes alpha, not this update."""
    rows = [torch.randn(16, 3), torch.rand(16, 1) * 2 - 1, torch.randn(16), torch.randn(16, 3), torch.zeros(16)]

    def after(alpha_lr):
        core = SACCore(3, 1, [8], seed=0)
        core.alpha_opt.param_groups[0]["lr"] = alpha_lr
        core.update(*rows, torch.Generator().manual_seed(0))
        return core.alpha, torch.cat([p.detach().reshape(-1) for p in [*core.critics.parameters(), *core.actor.parameters()]])

    (alpha_still, nets_still), (alpha_moved, nets_moved) = after(0.0), after(3.0)
    assert abs(float(torch.log(alpha_moved / alpha_still))) > 2.0  # exp(+-3) against 1
    torch.testing.assert_close(nets_moved, nets_still)


def test_mbpo_branches_rollouts_from_real_states_and_stops_them_at_termination(monkeypatch):
    ag = agents.make("mbpo", IP, seed=0, **TINY, rollout_batch=64, rollout_length=3, termination="learned")
    real = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    ag.data.add(real, np.zeros((50, 1), np.float32), np.zeros(50, np.float32), real, np.zeros(50, bool), np.zeros(50, bool))

    def predict(obs, act, gen=None):  # the state moves by 1; rollouts from s[0] > 0 end at once
        return obs + 1.0, torch.ones(obs.shape[:2]), (obs[..., 0] > 0).float()

    monkeypatch.setattr(ag.model, "predict", predict)
    ag.after_fit()
    im = ag.imagined
    first = im["obs"][:64]
    assert all(any(np.allclose(row, r) for r in real) for row in first.numpy())  # branched from real states
    s0 = first[:, 0]
    assert len(im["obs"]) == 64 + int((s0 <= 0).sum()) + int((s0 <= -1).sum())  # a branch stops where it ended
    torch.testing.assert_close(im["terminated"][:64], (first[:, 0] > 0).float())
    assert im["actions"].abs().max() <= 1.0


def test_mbpo_and_mbve_end_model_rollouts_with_the_known_termination(monkeypatch):
    # the model tilts the pole (entry 1) by 0.15 a step and never predicts an end (p_end 0)
    step = lambda obs, act, gen=None: (obs + torch.tensor([0.0, 0.15, 0, 0]), torch.ones(obs.shape[:2]),
                                       torch.zeros(obs.shape[:2]))
    mbpo = agents.make("mbpo", IP, seed=0, **TINY, rollout_batch=8, rollout_length=3, termination="known")
    mbpo.data.add(np.zeros((8, 4), np.float32), np.zeros((8, 1), np.float32), np.zeros(8, np.float32),
                  np.zeros((8, 4), np.float32), np.zeros(8, bool), np.zeros(8, bool))
    monkeypatch.setattr(mbpo.model, "predict", step)
    mbpo.after_fit()  # angle 0.15 goes on, 0.30 ends (|angle| > 0.2): two steps per branch
    assert len(mbpo.imagined["obs"]) == 16
    torch.testing.assert_close(mbpo.imagined["terminated"], torch.tensor([0.0] * 8 + [1.0] * 8))
    mbve = agents.make("mbve", IP, seed=0, **TINY, expansion_horizon=3, gamma=0.5, termination="known")
    with torch.no_grad():
        mbve.sac.log_alpha.fill_(-100.0)
    monkeypatch.setattr(mbve.model, "predict", step)
    monkeypatch.setattr(mbve.sac, "soft_value", lambda s, gen: torch.full(s.shape[:1], 100.0))
    y = mbve.expanded_target(torch.ones(1), torch.zeros(1, 4), torch.zeros(1))
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.5 + 0.25]))  # ends at the second model step
    with pytest.raises(scenarios.UserError, match="mbpo: termination: known"):
        agents.make("mbpo", "mujoco/Hopper-hard-v0", termination="known")


def test_i2a_imagines_one_rollout_per_action_zeroed_after_predicted_termination(monkeypatch):
    ag = agents.make("i2a", "classic/CartPole-v1", seed=0, imagination_depth=3, ensemble_size=2, model_arch=[8])

    def predict(obs, act, gen=None):  # action a moves the state by a + 1; termination once s[0] passes 2.5
        nxt = obs + 1.0 + act.argmax(dim=-1, keepdim=True).float()
        return nxt, torch.full(obs.shape[:2], 0.5), (nxt[..., 0] > 2.5).float()

    monkeypatch.setattr(ag.model, "predict", predict)
    feats = ag.net.imagine(torch.zeros(3, 4), ag.model)
    assert feats.shape == (3 * 2, 3, 4 + 2)
    first = feats[:, 0, :4]  # normalizers are identity before any fit
    torch.testing.assert_close(first[0::2], torch.ones(3, 4))  # rollout of action 0
    torch.testing.assert_close(first[1::2], torch.full((3, 4), 2.0))  # rollout of action 1
    # action 1's rollout: s = 2, then >= 3 (terminates, reported), then zeros
    assert feats[1, 1, -1] == 1.0 and torch.all(feats[1, 2] == 0)
    assert torch.all(feats[:, :, 4] <= 0.5)
    plain = agents.make("i2a", "classic/CartPole-v1", seed=0, imagination=False)
    assert not hasattr(plain.net, "encoder") and plain.net.policy.in_features == 64
    assert ag.net.policy.in_features == 64 + 2 * ag.hparams["encoder_size"]


def test_pets_cem_searches_each_step_afresh_inside_the_action_bounds(monkeypatch):
    """Each planning step samples around the shifted mean with the full noise_std spread (the
    elites' narrow spread of the previous step is not carried over), within the action bounds."""
    ag = agents.make("pets", IP, seed=0, model_arch=[8], ensemble_size=1, particles=1, horizon=4, samples=50,
                     iterations=3, termination="known")
    ag.fitted = True
    seen: list[torch.Tensor] = []

    def returns(obs, cand, gen):  # prefers sequences near 0.5 everywhere: the elites narrow fast
        seen.append(cand.clone())
        return -((cand - 0.5) ** 2).sum(dim=(2, 3))

    monkeypatch.setattr(ag, "returns", returns)
    obs = np.zeros((1, 4), np.float32)
    ag.plan(obs, ag._train_plan, ag.train_gen)
    seen.clear()
    ag.plan(obs, ag._train_plan, ag.train_gen)
    first = seen[0][0, 1:, :3]  # the second step's first round (sample 0 is the incumbent)
    std0 = 0.5 * 3.0  # noise_std x half the range of [-3, 3]
    assert float(first.std(dim=0).min()) > 0.5 * std0
    low, high = float(ag.low[0]), float(ag.high[0])
    assert all(float(c.min()) >= low and float(c.max()) <= high for c in seen)
    assert float((seen[0] == high).float().mean()) < 0.05  # hardly any sample is clipped to a bound


def test_known_reward_replaces_the_learned_one_in_plans_and_model_rollouts(monkeypatch):
    # the model moves Reacher's fingertip-target vector (entries 8, 9) to (0.3, 0.4) and predicts a
    # learned reward of 100 every step: with reward: known a plan scores -|(0.3, 0.4)| - w |a|^2 a step
    reacher = "mujoco/Reacher-v5"
    ag = agents.make("pets", reacher, seed=0, model_arch=[8], ensemble_size=2, particles=2, horizon=2, reward="known")
    w = scenarios.make(reacher).unwrapped._reward_control_weight
    far = torch.zeros(10)
    far[8:10] = torch.tensor([0.3, 0.4])
    monkeypatch.setattr(ag.model, "predict", lambda obs, act, gen=None: (
        far.expand(obs.shape).clone(), torch.full(obs.shape[:2], 100.0), torch.zeros(obs.shape[:2])))
    cand = torch.full((1, 2, 2, 2), 0.5)
    cand[0, 1] = 0.0
    torch.testing.assert_close(ag.returns(torch.zeros(1, 10), cand, None),
                               torch.tensor([[2 * (-0.5 - w * 0.5), 2 * -0.5]]))
    assert agents.make("pets", reacher, model_arch=[8]).reward_fn is None  # the default: learned
    assert agents.make("pets", reacher, model_arch=[8], reward=None).reward_fn is not None  # null: known where there is one
    with pytest.raises(scenarios.UserError, match="pets: reward: known, but mujoco/HalfCheetah-v5 has no known reward"):
        agents.make("pets", "mujoco/HalfCheetah-v5", reward="known")
    with pytest.raises(scenarios.UserError, match="hyperparameter reward must be one of known, learned"):
        agents.make("pets", reacher, reward="exact")
    # MBPO's actions are in [-1, 1]: the known reward sees them scaled to Pendulum's +-2 torque
    mbpo = agents.make("mbpo", "classic/Pendulum-v1", seed=0, **TINY, rollout_batch=8, rollout_length=1, reward="known")
    start = np.tile(np.array([[np.cos(0.5), np.sin(0.5), 1.0]], np.float32), (8, 1))
    mbpo.data.add(start, np.zeros((8, 1), np.float32), np.zeros(8, np.float32), start, np.zeros(8, bool), np.zeros(8, bool))
    monkeypatch.setattr(mbpo.model, "predict", lambda obs, act, gen=None: (obs, torch.full(obs.shape[:2], 100.0),
                                                                           torch.zeros(obs.shape[:2])))
    mbpo.after_fit()
    u = 2.0 * mbpo.imagined["actions"][:, 0]
    torch.testing.assert_close(mbpo.imagined["rewards"], -(0.25 + 0.1 + 0.001 * u**2))
    mbve = agents.make("mbve", "classic/Pendulum-v1", seed=0, **TINY, expansion_horizon=1, gamma=0.5, reward="known")
    with torch.no_grad():
        mbve.sac.log_alpha.fill_(-100.0)
    monkeypatch.setattr(mbve.model, "predict", lambda obs, act, gen=None: (obs, torch.full(obs.shape[:2], 100.0),
                                                                           torch.zeros(obs.shape[:2])))
    monkeypatch.setattr(mbve.sac, "soft_value", lambda s, gen: torch.zeros(s.shape[:1]))
    y = mbve.expanded_target(torch.zeros(8), torch.as_tensor(start), torch.zeros(8))
    assert (y < -0.5 * 0.35 + 1e-6).all() and (y >= -0.5 * (0.35 + 0.004) - 1e-6).all()  # the known cost, not 100


def test_pets_mppi_needs_no_elite_and_plans_finite_actions_from_two_samples():
    """MPPI keeps no elite, so the CEM check (elite_fraction x samples >= 1) refused small MPPI plans;
    one MPPI sample had a NaN spread that made every planned action NaN (one sample is now refused:
    ``test_one_sample_or_a_cem_alpha_of_1_never_moves_the_plan_and_is_refused``)."""
    with pytest.raises(scenarios.UserError, match="keeps no elite"):
        agents.make("pets", IP, samples=4)
    for samples in (2, 4):
        ag = agents.make("pets", IP, seed=0, planner="mppi", samples=samples, learning_starts=20, round_steps=20,
                         model_updates=5, horizon=3, model_arch=[8], ensemble_size=2, particles=2)
        ag.learn(45)
        obs, _ = ag.scenario.vector(1, seed=0).reset()
        assert np.isfinite(ag.act(obs)["agent_0"]).all()


@pytest.mark.parametrize("name, overrides, pattern", [
    ("pets", {"samples": 1, "planner": "mppi"}, "samples must be an integer >= 2, got 1"),
    ("pets", {"samples": 1, "elite_fraction": 1.0}, "samples must be an integer >= 2, got 1"),
    ("cem", {"samples": 1, "elite_fraction": 1.0}, "samples must be an integer >= 2, got 1"),
    ("mppi", {"samples": 1}, "samples must be an integer >= 2, got 1"),
    ("pets", {"cem_alpha": 1.0}, r"cem_alpha must be a number in \[0, 1\), got 1.0"),
])
def test_one_sample_or_a_cem_alpha_of_1_never_moves_the_plan_and_is_refused(name, overrides, pattern):
    """The incumbent plan is always one of the candidates, so one sample is the incumbent alone, and a
    cem_alpha of 1 keeps the whole previous mean and spread: either way every plan stayed at its start
    (the middle of the action range: cem on InvertedPendulum scored a zero-action policy's 23)."""
    with pytest.raises(scenarios.UserError, match=pattern):
        agents.make(name, IP, seed=0, **overrides)


def test_the_mppi_planner_agent_needs_no_elite():
    """The mppi agent weighs every sample and keeps no elite, but the CEM check (elite_fraction x samples
    >= 1) refused it below 10 samples; cem still refuses a plan without an elite."""
    agents.make("mppi", IP, seed=0, samples=4)
    with pytest.raises(scenarios.UserError, match="keeps no elite"):
        agents.make("cem", IP, seed=0, samples=4)
