"""Metric functions against hand-computed values."""

import numpy as np

from testbed.metrics import bootstrap_ci, iqm
from testbed.records import EpisodeRecord
from testbed.summary import summarize


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0])) == 3.5  # mean of 2,3,4,5
    assert iqm(np.array([1.0, 1.0, 1.0, 1.0])) == 1.0


def test_bootstrap_ci_brackets_the_statistic_and_is_seeded():
    x = np.random.default_rng(0).normal(10.0, 1.0, 200)
    lo, hi = bootstrap_ci(x, iqm, reps=1000, seed=1)
    assert lo < iqm(x) < hi and hi - lo < 0.6
    assert (lo, hi) == bootstrap_ci(x, iqm, reps=1000, seed=1)


def test_summary_groups_by_agent_and_scenario():
    def rec(agent, ret):
        return EpisodeRecord(run_id="r", scenario_id="s/x-v0", scenario={}, agent=agent, seed=0, episode=0,
                             returns={"a": ret}, team_return=ret, aggregation="sum", length=1, terminated=True,
                             truncated=False, wall_time_s=0.0, deterministic=True, created_at="t")

    rows = summarize([rec("a", 1.0), rec("a", 3.0), rec("b", 5.0)])
    assert [(r.agent, r.episodes, r.mean) for r in rows] == [("a", 2, 2.0), ("b", 1, 5.0)]
