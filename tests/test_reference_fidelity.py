"""Learners against their papers and reference implementations (issue 14): each test pins
one place where a learner once departed from its reference and fails if it does again."""

import numpy as np
import pytest
import torch

import agents
from agents import base, sb3_agent, tabular
from agents.imitation import dataset
from agents.marl.numpy_value_nets import team_episode_end

SPREAD = "mpe/simple_spread-v3"


# ----- MAPPO / IPPO ---------------------------------------------------------------------------
@pytest.mark.parametrize("value_norm", [False, True])
def test_ppo_values_are_the_critics_own_without_value_norm(monkeypatch, value_norm):
    """Without value normalization GAE and bootstraps use the critic's output as it is
    (it used to be denormalized with untouched statistics: x 0.1)."""
    ag = agents.make("ippo", SPREAD, seed=0, value_norm=value_norm, n_envs=2, n_steps=5, epochs=1)
    for net in ag.nets:
        torch.nn.init.zeros_(net.value.weight)
        torch.nn.init.constant_(net.value.bias, 5.0)
    seen = []
    monkeypatch.setattr(ag, "_update", lambda gi, b, last_v, h0: seen.append((np.stack(b["v"]), last_v)))
    ag.learn(10)
    v, last_v = seen[0]
    # with value_norm on and no statistics yet, MAPPO's denormalization gives 5 * 0.1 (std floor)
    expected = 0.5 if value_norm else 5.0
    np.testing.assert_allclose(v, expected, rtol=1e-5)
    np.testing.assert_allclose(last_v, expected, rtol=1e-5)


def test_ppo_value_loss_is_mappos_clipped_huber_by_default():
    ag = agents.make("mappo", SPREAD, seed=0)
    h = ag.hparams
    assert h["value_clip"] and h["huber_loss"] and h["huber_delta"] == 10.0  # r_mappo.py's defaults
    pred, old, target = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.0, 0.5, 0.0]), torch.tensor([20.0, 0.1, 1.0])
    # Huber(delta 10) of err 20: 10 * (20 - 5) = 150; err 0.1 -> 0.005; the clipped prediction
    # of the second (0.5 + clamp(-0.5, +-0.2) = 0.3) errs by 0.2 -> 0.02 > 0.005: the max is taken;
    # the third moved 1.0 from 0.0 (clipped to 0.2: error 0.8 -> 0.32 against 0)
    torch.testing.assert_close(ag.value_loss(pred, old, target), torch.tensor([150.0, 0.02, 0.32]))
    plain = agents.make("mappo", SPREAD, seed=0, value_clip=False, huber_loss=False)
    torch.testing.assert_close(plain.value_loss(pred, old, target), torch.tensor([200.0, 0.005, 0.0]))


# ----- MADDPG: tests/test_marl_numpy_maddpg.py (own action only, sampled target actions) ------


# ----- QMIX / VDN -----------------------------------------------------------------------------
def test_team_bootstrap_stops_only_when_every_live_agent_terminated():
    term = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    live = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]], np.float32)
    ended, next_live = team_episode_end(term, live)
    np.testing.assert_array_equal(ended, [0.0, 1.0, 1.0, 0.0])  # row 2: the last live agent ended it
    np.testing.assert_array_equal(next_live, [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])


# ----- REINFORCE ------------------------------------------------------------------------------
def test_reinforce_updates_use_only_the_current_policys_steps(monkeypatch):
    ag = agents.make("reinforce", "classic/CartPole-v1", seed=0, n_envs=4, steps_per_update=300)
    taken_by: dict[bytes, int] = {}  # observation row -> number of updates done when it was acted on
    updates, mixed = [0], []
    dist, update = ag._dist, ag._update

    def acting(obs):
        if not updating[0]:
            for row in obs.numpy():
                taken_by.setdefault(row.tobytes(), updates[0])
        return dist(obs)

    updating = [False]

    def record(episodes):
        rows = np.concatenate([e[0] for e in episodes])
        versions = {taken_by[r.astype(np.float32).tobytes()] for r in rows}
        if versions != {updates[0]}:
            mixed.append((updates[0], sorted(versions)))
        updating[0] = True
        update(episodes)
        updating[0] = False
        updates[0] += 1

    monkeypatch.setattr(ag, "_dist", acting)
    monkeypatch.setattr(ag, "_update", record)
    ag.learn(3000)
    assert updates[0] >= 4
    assert not mixed, f"updates used steps of earlier policies (update, policies): {mixed}"


# ----- DQN family -----------------------------------------------------------------------------
def test_n_step_windows_continue_across_learn_calls():
    split = agents.make("rainbow", "classic/CartPole-v1", seed=0, n_envs=4, learning_starts=10_000)
    split.learn(100)
    assert any(len(w) for w in split.buffer.windows)  # the episodes go on: their 3-step windows stay open
    assert len(split.buffer) + sum(len(w) for w in split.buffer.windows) == 100  # every step stored or pending, once
    split.learn(100)
    whole = agents.make("rainbow", "classic/CartPole-v1", seed=0, n_envs=4, learning_starts=10_000)
    whole.learn(200)
    assert len(split.buffer) == len(whole.buffer)
    for field in ("obs", "next_obs", "actions", "rewards", "discounts"):  # the same transitions, in the same order
        np.testing.assert_array_equal(getattr(split.buffer, field), getattr(whole.buffer, field))


# ----- GAIL / AIRL ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pendulum_demos(tmp_path_factory):
    ds = dataset.record(agents.make("random", "classic/Pendulum-v1", seed=0), episodes=2, seed=0)
    return ds.save(tmp_path_factory.mktemp("demos") / "pendulum.npz")


@pytest.mark.parametrize("name", ["gail", "airl"])
def test_discriminator_trains_on_the_transitions_actually_stepped(monkeypatch, pendulum_demos, name):
    """Generator samples carry the clipped actions that were stepped, and a time-limit
    truncation is not terminal (Pendulum never terminates)."""
    ag = agents.make(name, "classic/Pendulum-v1", seed=0, dataset=str(pendulum_demos), n_envs=1, n_steps=256,
                     batch_size=64, n_epochs=1, disc_updates=4)
    calls, active = [], [False]
    logit = ag.disc.logit

    def record(obs, act, next_obs, done, log_pi):
        if active[0]:
            calls.append((act.detach().clone(), done.detach().clone()))
        return logit(obs, act, next_obs, done, log_pi)

    update = ag.update_discriminator

    def during_update(*args):
        active[0] = True
        try:
            update(*args)
        finally:
            active[0] = False

    monkeypatch.setattr(ag.disc, "logit", record)
    monkeypatch.setattr(ag, "update_discriminator", during_update)
    ag.learn(256)  # one rollout with one truncation (Pendulum's 200-step limit)
    generator = calls[0::2]  # each update scores generator samples, then expert samples
    assert len(generator) == 4
    acts = torch.cat([a for a, _ in generator])
    problems = []
    if acts.abs().max() > 2.0:
        problems.append(f"actions up to {float(acts.abs().max()):.2f} outside the bounds (+-2) were never stepped")
    if not all(torch.all(d == 0) for _, d in generator):
        problems.append("a time-limit truncation was treated as termination")
    assert not problems, problems


# ----- capability table -----------------------------------------------------------------------
# Each method's data regime by its definition (its paper or library): the table `testbed list agents` shows.
EXPECTED_LEARNING = {
    "random": "none", "spread_heuristic": "none", "speaker_listener_heuristic": "none", "reference_heuristic": "none",
    "mppi": "planning", "cem": "planning", "mcts": "planning",
    "value_iteration": "model", "policy_iteration": "model",
    "ppo": "on-policy", "fast_ppo": "on-policy", "a2c": "on-policy", "trpo": "on-policy", "reinforce": "on-policy", "sarsa": "on-policy",
    "mappo": "on-policy", "ippo": "on-policy", "joint_ppo": "on-policy", "gail": "on-policy", "airl": "on-policy",
    "adv_ppo": "on-policy", "rarl": "on-policy", "adr": "on-policy", "a3c": "on-policy",
    "impala": "off-policy",  # V-trace corrects behaviour-policy lag (Espeholt et al. 2018, section 4)
    "sac": "off-policy", "fast_sac": "off-policy", "td3": "off-policy", "ddpg": "off-policy", "tqc": "off-policy", "dqn": "off-policy",
    "qrdqn": "off-policy", "double_dqn": "off-policy", "dueling_dqn": "off-policy", "rainbow": "off-policy",
    "q_learning": "off-policy", "iql": "off-policy", "vdn": "off-policy", "qmix": "off-policy",
    "maddpg": "off-policy", "joint_q": "off-policy", "jal": "off-policy", "tabular_iql": "off-policy",
    "bc": "offline", "dagger": "interactive",
    # learned-model methods learn their model (and MBPO/MBVE their actor-critic) from replayed real data
    "pets": "off-policy", "mbpo": "off-policy", "mbve": "off-policy",
    "i2a": "on-policy",  # its policy is A2C's; its model learns from all real data
}


@pytest.mark.parametrize("name", agents.list_names())
def test_capability_table_matches_each_methods_definition(name):
    assert name in EXPECTED_LEARNING, f"{name}: add its data regime (one of {sorted(base.LEARNING)}) to this table"
    caps = agents.agent_class(name).capabilities
    assert caps.learning == EXPECTED_LEARNING[name]
    assert caps.needs_training == (caps.learning not in ("planning", "none"))
    cls = agents.agent_class(name)
    if issubclass(cls, sb3_agent.SB3Agent):
        assert caps.learning == sb3_agent.sb3_learning(cls.algorithm)
    if issubclass(cls, tabular._TemporalDifference):
        assert caps.on_policy == cls.on_policy_target


def test_capabilities_refuse_an_unknown_or_contradictory_regime():
    with pytest.raises(ValueError, match="unknown learning regime"):
        base.Capabilities(learning="sometimes")
    with pytest.raises(ValueError, match="contradicts"):
        base.Capabilities(learning="planning")  # needs_training defaults to True
