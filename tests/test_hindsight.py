"""Hindsight experience replay for our DQN family (``agents.hindsight``): the relabelled
transitions are the ones the paper defines, HER solves a bit-flipping task plain DQN does not,
and training with it resumes exactly."""

import numpy as np
import pytest
from gymnasium import spaces

import agents
import scenarios
import testbed
from agents.hindsight import Hindsight, buffer_store, goal_slice
from agents.replay import ReplayBuffer
from scenarios import UserError

BITS = {"id": "goals/BitFlipping12-v0", "source": "gymnasium:BitFlippingEnv-v0", "kwargs": {"n_bits": 12},
        "time_limit": 12}
FAST = {"learning_starts": 200, "gamma": 0.9, "eps_fraction": 0.3, "target_update_interval": 200, "train_freq": 1,
        "batch_size": 64, "net_arch": [64]}


def _space(n):
    box = spaces.Box(-10.0, 10.0, (n,), np.float32)
    return spaces.Dict({"achieved_goal": box, "desired_goal": box, "observation": box})


def _reward(achieved, goal, info):
    return -(np.abs(achieved - goal).sum(-1) > 0.5).astype(np.float32)


def test_relabelled_n_step_transitions_are_the_papers():
    """A 1-d walk: position p after each step; future goals, 2-step windows, a termination at the end."""
    space, gamma = _space(1), 0.5
    assert goal_slice(space) == slice(1, 2)
    buf = ReplayBuffer(1000, (3,), np.float32, 1, gamma=gamma, n_step=2)
    her = Hindsight(space, _reward, 1, np.random.default_rng(0), n_sampled_goal=3, strategy="future", gamma=gamma,
                    n_step=2)
    row = lambda p: np.array([[p, 9.0, p]], np.float32)  # achieved = observation = p, desired 9
    path = [0.0, 1.0, 2.0, 3.0, 4.0]
    for t in range(4):
        last = t == 3
        her.add(row(path[t]), np.array([t]), np.array([[path[t + 1]]]), [{}], np.array([last]), buffer_store(buf),
                row(path[t + 1]) if last else None, np.array([True]) if last else None)
    assert len(buf) == 4 * 3  # only the relabelled ones: the real ones go through buf.add
    for j in range(len(buf)):
        t = int(buf.actions[j])  # the action is the step index
        g = float(buf.obs[j, 1])
        assert buf.obs[j, 0] == path[t] and buf.next_obs[j, 1] == g  # both ends carry the new goal
        assert g in path[t + 1:]  # future: achieved after a step in [t, T-1]
        m = min(2, 4 - t)
        want = sum(gamma**u * (0.0 if path[t + u + 1] == g else -1.0) for u in range(m))
        assert buf.rewards[j] == pytest.approx(want)
        assert buf.next_obs[j, 0] == path[t + m]
        assert buf.discounts[j] == (0.0 if t + m == 4 else gamma**m)  # terminated at the end


@pytest.mark.parametrize("strategy", ["final", "episode"])
def test_the_other_strategies_draw_their_goals(strategy):
    space = _space(1)
    buf = ReplayBuffer(100, (3,), np.float32, 1)
    her = Hindsight(space, _reward, 1, np.random.default_rng(0), n_sampled_goal=4, strategy=strategy)
    for t in range(3):
        her.add(np.array([[t, 9.0, t]], np.float32), np.array([t]), np.array([[t + 1.0]]), [{}],
                np.array([t == 2]), buffer_store(buf), np.array([[3.0, 9.0, 3.0]], np.float32), np.array([False]))
    goals = set(buf.obs[: len(buf), 1].tolist())
    assert goals == ({3.0} if strategy == "final" else {1.0, 2.0, 3.0})


def test_her_solves_bit_flipping_where_dqn_does_not():
    success = {}
    for her in (True, False):
        agent = agents.make("double_dqn", BITS, seed=0, her=her, **FAST)
        agent.learn(3000)
        recs = testbed.evaluate(agent, BITS, episodes=30, seed=1000, num_envs=8)
        success[her] = np.mean([bool(r.success) for r in recs])
    assert success[True] >= 0.9 and success[False] <= 0.1, success


def test_training_with_her_resumes_exactly(tmp_path):
    from test_resume import _state

    hp = {**FAST, "her": True, "n_step": 3, "prioritized": True, "total_steps": 600, "n_envs": 2}
    whole = agents.make("dueling_dqn", BITS, seed=3, **hp)
    whole.learn(600)
    split = agents.make("dueling_dqn", BITS, seed=3, **hp)
    split.learn(300)  # 150 steps of 2 copies: mid-episode: open episodes are part of the state
    assert any(ep["actions"] for ep in split.hindsight.episodes)
    agents.save(split, tmp_path / "ckpt", training_state=True)
    resumed = agents.load(tmp_path / "ckpt", scenarios.make(BITS), resume=True)
    resumed.learn(300)
    a, b = _state(resumed), _state(whole)
    differ = [k for k in b if k not in a or not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
    assert not differ, differ[:3]


def test_her_is_refused_where_it_cannot_apply():
    with pytest.raises(UserError, match="her needs a goal-conditioned scenario"):
        agents.make("double_dqn", "classic/CartPole-v1", her=True)
    with pytest.raises(UserError, match="goal_selection_strategy"):
        agents.make("double_dqn", BITS, her=True, goal_selection_strategy="past")
