"""Grid evaluation: axis parsing, every point evaluated with its physics recorded, robustness metrics."""

import numpy as np
import pytest

import agents
import scenarios
from scenarios import UserError
from testbed.grid import evaluate_grid, grid_points, parse_axis, robustness
from testbed.records import EpisodeRecord


def test_axis_parsing_includes_endpoints():
    a = parse_axis("body_mass.torso=0.5:1.5:5")
    assert a.values == (0.5, 0.75, 1.0, 1.25, 1.5) and a.name == "torso" and a.operation == "scale"
    g = parse_axis("gravity.z@set=-12:-8:3")
    assert g.component == 2 and g.name is None and g.operation == "set" and g.values == (-12.0, -10.0, -8.0)
    assert parse_axis("geom_friction.floor[1]=0.5:1:2").component == 1
    assert len(grid_points([a, parse_axis("geom_friction=0.1:4:10")])) == 50


@pytest.mark.parametrize("text, pattern", [
    ("body_mass.torso=0.5:1.5", "expected FIELD"),
    ("mass_of_torso=1:2:3", "unknown field"),
    ("body_mass=0:2:3", "a scale must be > 0"),
    ("gravity.w@set=1:2:2", "axis x, y or z"),
])
def test_bad_axes(text, pattern):
    with pytest.raises(UserError, match=pattern):
        parse_axis(text)


def test_grid_evaluates_every_point_with_its_physics():
    sc = scenarios.make("mujoco/InvertedPendulum-v5", time_limit=20)
    ag = agents.make("random", sc, seed=0)
    axes = [parse_axis("body_mass.pole=1:3:3"), parse_axis("geom_friction@set=0.5:1:2")]
    recs = evaluate_grid(ag, sc, axes, episodes=2, seed=10)
    assert len(recs) == 2 * (6 + 1) and len({r.run_id for r in recs}) == 1
    nominal = [r for r in recs if r.params["grid"] == {}]
    assert len(nominal) == 2 and "body_mass.pole" not in nominal[0].params
    by_point = {}
    for r in recs:
        g = r.params["grid"]
        if not g:
            continue
        by_point.setdefault((g["body_mass.pole"], g["geom_friction@set"]), []).append(r)
        assert r.params["geom_friction.rail"] == pytest.approx(g["geom_friction@set"])
    assert all(sorted(x.seed for x in v) == [10, 11] for v in by_point.values())
    assert sorted(by_point) == [(1.0, 0.5), (1.0, 1.0), (2.0, 0.5), (2.0, 1.0), (3.0, 0.5), (3.0, 1.0)]
    heavy = by_point[(3.0, 0.5)][0].params["body_mass.pole"]
    light = by_point[(1.0, 0.5)][0].params["body_mass.pole"]
    assert heavy == pytest.approx(3 * light)


def test_robustness_metrics_by_hand():
    def rec(point, ret):
        return EpisodeRecord(run_id="g", scenario_id="s/x-v0", scenario={}, params={"grid": point}, agent="a", seed=0,
                             episode=0, returns={"a": ret}, team_return=ret, aggregation="sum", length=1,
                             terminated=True, truncated=False, wall_time_s=0.0, deterministic=True, created_at="t")

    recs = [rec({}, 100.0), rec({}, 80.0)] + [rec({"m": float(m)}, float(r)) for m, r in zip(range(10), range(10, 110, 10))]
    row = robustness(recs)[0]
    assert row.nominal == 90.0 and row.worst == 10.0 and row.mean == 55.0 and row.points == 10
    assert row.p10 == pytest.approx(np.percentile(np.arange(10, 110, 10), 10)) and row.worst_point == {"m": 0.0}


def test_batched_grid_matches_the_per_point_gymnasium_evaluation():
    class Tilt:
        """A deterministic controller, so both evaluations act identically."""

        name = "tilt"

        def __init__(self, scenario):
            self.scenario = scenario

        def act(self, obs, deterministic=True):
            x = obs["agent_0"]
            return {"agent_0": np.clip(3.0 * x[:, 1:2] + 0.5 * x[:, 3:4], -3, 3).astype(np.float32)}

    sc = scenarios.make("mujoco/InvertedPendulum-v5", time_limit=200)
    axes = [parse_axis("body_mass.pole=0.5:4:4")]
    batched = evaluate_grid(Tilt(sc), sc, axes, episodes=3, seed=5)
    from testbed.grid import grid_points, point_spec
    from testbed.harness import evaluate

    for point in grid_points(axes):
        ref = evaluate(Tilt(sc), scenarios.Scenario(point_spec(sc.spec, axes, point)), episodes=3, seed=5, backend="gymnasium")
        ours = sorted((r for r in batched if r.params["grid"] == point), key=lambda r: r.episode)
        assert [r.team_return for r in ours] == [r.team_return for r in ref]
        assert [r.length for r in ours] == [r.length for r in ref]
    assert len({r.team_return for r in batched}) > 3  # the physics really differs between points
