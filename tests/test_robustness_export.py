"""Robustness summaries over grids and the marl-eval export."""

import json

import numpy as np
import pytest

import agents
import testbed
from testbed.marl_eval import to_marl_eval, write_marl_eval
from testbed.robustness_metrics import robustness


def test_robustness_summary_by_hand():
    r = robustness(np.array([100.0, 80.0, 40.0]), nominal=100.0, axis_values=np.array([1.0, 1.5, 2.0]))
    assert r.worst == 40.0 and r.mean == pytest.approx(220 / 3) and r.median == 80.0
    assert r.aurc == pytest.approx(((100 + 80) / 2 * 0.5 + (80 + 40) / 2 * 0.5) / 1.0)  # trapezoid over [0, 1]
    assert r.normalized_aurc == pytest.approx(0.75)
    flat = robustness(np.full(5, 50.0), nominal=50.0)
    assert flat.normalized_aurc == 1.0 and flat.p10 == 50.0


def test_marl_eval_layout(tmp_path):
    ag = agents.make("random", "mpe/simple_spread-v3", seed=0)
    recs = testbed.evaluate(ag, episodes=3, seed=0) + testbed.evaluate(ag, episodes=2, seed=10)
    data = json.loads(write_marl_eval(recs, tmp_path / "m.json").read_text())
    runs = data["mpe"]["simple_spread-v3"]["random"]
    assert len(runs) == 2
    for run in runs.values():
        assert set(run) == {"step_0", "absolute_metrics"}
        assert run["step_0"]["step_count"] == 0 and run["absolute_metrics"]["return"] == run["step_0"]["return"]
    assert sorted(len(r["absolute_metrics"]["return"]) for r in runs.values()) == [2, 3]
    assert "sum over agents" in to_marl_eval(recs)["_note"]
