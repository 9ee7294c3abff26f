"""The evaluation harness: records, seeds, batching, aggregation, failure safety."""

import numpy as np
import pytest

import agents
import scenarios
import testbed
from scenarios import UserError


class Bang:
    """A deterministic, mediocre CartPole controller (push the way the pole is turning)."""

    name = "bang"

    def __init__(self, scenario, fail_after=None):
        self.scenario = scenario
        self.calls = 0
        self.fail_after = fail_after

    def act(self, obs, deterministic=True):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("agent crashed")
        x = obs["agent_0"]
        return {"agent_0": (x[:, 3] > 0).astype(np.int64)}


def test_records_carry_everything_needed():
    sc = scenarios.make("classic/CartPole-v1")
    recs = testbed.evaluate(Bang(sc), episodes=5, seed=40)
    assert [r.episode for r in recs] == list(range(5)) and [r.seed for r in recs] == list(range(40, 45))
    r = recs[0]
    assert r.scenario_id == "classic/CartPole-v1" and r.scenario["time_limit"] == 500
    assert r.agent == "bang" and r.aggregation == "sum" and r.team_return == r.returns["agent_0"]
    assert r.length == r.team_return  # +1 per step
    assert r.terminated != r.truncated
    assert {"numpy", "gymnasium", "torch_threads"} <= set(r.versions)


def test_episodes_do_not_depend_on_the_number_of_copies():
    sc = scenarios.make("classic/CartPole-v1")
    one = testbed.evaluate(Bang(sc), episodes=6, seed=7, num_envs=1)
    many = testbed.evaluate(Bang(sc), episodes=6, seed=7, num_envs=4)
    assert [r.team_return for r in one] == [r.team_return for r in many]
    assert len({r.team_return for r in one}) > 1  # different seeds really give different episodes


def test_team_return_is_the_sum_over_agents_unless_stated():
    sc = scenarios.make("mpe/simple_spread-v3")
    r = testbed.evaluate(agents.make("random", sc, seed=0), episodes=2, seed=0)[0]
    assert r.team_return == pytest.approx(sum(r.returns.values())) and r.length == 25 and r.truncated
    mean_sc = scenarios.make("mpe/simple_spread-v3", team_reward="mean")
    r = testbed.evaluate(agents.make("random", mean_sc, seed=0), episodes=2, seed=0)[0]
    assert r.aggregation == "mean" and r.team_return == pytest.approx(np.mean(list(r.returns.values())))


def test_a_failing_evaluation_keeps_stored_rows(tmp_path):
    store = testbed.ResultsStore(tmp_path / "r.db")
    sc = scenarios.make("classic/CartPole-v1")
    testbed.evaluate(Bang(sc), episodes=3, seed=0, store=store)
    with pytest.raises(RuntimeError, match="agent crashed"):
        testbed.evaluate(Bang(sc, fail_after=400), episodes=50, seed=0, num_envs=1, store=store, flush_every=1)
    recs = store.records()
    assert len(recs) >= 4  # the first run plus at least one flushed episode of the crashed run
    assert all(r.length > 0 for r in recs)
    assert sum(r.run_id == recs[0].run_id for r in recs) == 3


def test_scenario_with_other_spaces_is_refused():
    ag = agents.make("random", "classic/CartPole-v1", seed=0)
    with pytest.raises(UserError, match="does not fit classic/Acrobot-v1"):
        testbed.evaluate(ag, "classic/Acrobot-v1", episodes=1)
