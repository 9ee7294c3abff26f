"""Worst-case search: box parsing, every point stored as a grid point, the search finding what a
grid finds with fewer points, determinism, CLI and spec refusals."""

import subprocess
import sys

import numpy as np
import pytest

import scenarios
import testbed
from scenarios import UserError
from testbed.grid import evaluate_grid, parse_axis, robustness
from testbed.worst_case import confirm, parse_box, search
from tests.controllers import LinearController

IP = "mujoco/InvertedPendulum-v5"


@pytest.fixture(scope="module")
def pendulum():
    sc = scenarios.make(IP, time_limit=300)
    return sc, LinearController(sc, [0.2, 2.0, 0.0, 0.3])  # balances the nominal pole; heavy poles and weak motors fail


BOX = ["body_mass.pole=0.5:8", "actuator_gain=0.3:1.5"]


def test_box_parsing_and_refusals():
    axis = parse_box("body_mass.torso@set=1:7")
    assert axis.values == (1.0, 7.0) and axis.operation == "set" and axis.name == "torso"
    for text, pattern in [("body_mass.torso=0.5:1.5:3", "LOW:HIGH"), ("body_mass=2:1", "greater than LOW"),
                          ("mass_of=1:2", "unknown field"), ("body_mass=0:2", "a scale must be > 0")]:
        with pytest.raises(UserError, match=pattern):
            parse_box(text)


@pytest.mark.parametrize("method", ["cmaes", "bayes", "random"])
def test_a_search_finds_what_a_four_times_larger_grid_finds(pendulum, method):
    sc, ag = pendulum
    axes = [parse_box(b) for b in BOX]
    grid = robustness(evaluate_grid(ag, sc, [parse_axis(f"{b}:6") for b in BOX], episodes=2, seed=3))[0]
    found = search(ag, sc, axes, episodes=2, evaluations=9, method=method, seed=3)
    assert found.evaluations == 9 and len(found.records) == 2 * 10
    assert grid.worst < 0.5 * grid.nominal  # the box holds a real failure, and the grid sees it
    if method != "random":  # the baseline is not held to it
        assert found.value <= grid.worst + 1e-9, (found.value, grid.worst)
    row = robustness(found.records)[0]  # stored and read exactly as a grid is
    assert row.points == 9 and row.worst == found.value and row.worst_point == found.point
    assert row.nominal == pytest.approx(grid.nominal)
    assert {r.params["search"] for r in found.records} == {method} and len({r.run_id for r in found.records}) == 1
    low, high = np.array([a.values for a in axes]).T
    for r in found.records:
        point = np.array([r.params["grid"].get(a.label, np.nan) for a in axes])
        assert r.params["grid"] == {} or np.all((point >= low) & (point <= high))


def test_a_search_is_reproducible_and_confirms_on_fresh_seeds(pendulum):
    sc, ag = pendulum
    axes = [parse_box(b) for b in BOX]
    runs = [search(ag, sc, axes, episodes=1, evaluations=7, seed=0, search_seed=4) for _ in range(2)]
    assert [r.params["grid"] for r in runs[0].records] == [r.params["grid"] for r in runs[1].records]
    (value,) = confirm(ag, sc, axes, [runs[0].point], episodes=2, seed=100)
    recs = evaluate_grid(ag, sc, axes, episodes=2, seed=100, points=[runs[0].point], nominal=False)
    assert value == pytest.approx(np.mean([r.team_return for r in recs]))


def test_cli_worst_case(tmp_path):
    from typer.testing import CliRunner

    from testbed.cli import app

    db = tmp_path / "r.db"
    runner = CliRunner()
    base = ["evaluate", "random", IP, "--episodes", "1", "--db", str(db)]
    ok = runner.invoke(app, [*base, "--worst-case", "body_mass.pole=0.5:2", "--search-budget", "3"])
    assert ok.exit_code == 0, ok.output
    assert "worst case found by cmaes in 3 points" in ok.output
    assert testbed.ResultsStore(db).count() == 4
    for extra, pattern in [(["--worst-case", "body_mass.pole=0.5"], "LOW:HIGH"),
                           (["--worst-case", "body_mass.pole=0.5:2", "--search", "grid"], "valid: cmaes, bayes, random"),
                           (["--worst-case", "body_mass.pol=0.5:2"], "no body named pol"),
                           (["--worst-case", "body_mass.pole=0.5:2", "--grid", "body_mass.pole=1:2:2"], "cannot be combined")]:
        bad = runner.invoke(app, [*base, *extra])
        assert bad.exit_code == 2 and pattern in bad.output and "Traceback" not in bad.output, bad.output
    assert testbed.ResultsStore(db).count() == 4  # nothing stored was lost
    one_line = subprocess.run([sys.executable, "-m", "testbed.cli", *base, "--worst-case", "body_mass.pole=0.5"],
                              capture_output=True, text=True)
    assert one_line.returncode == 2 and one_line.stderr.strip().count("\n") == 0  # as a user sees it: one line


def test_experiment_spec_worst_case(tmp_path):
    from testbed.experiment_spec import expand, load_experiment

    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: wc\nagents: [{{name: random}}]\nscenarios: [{IP}]\nevaluation: {{episodes: 1}}\n"
                    "worst_case:\n  - {box: [body_mass.pole=0.5:2], evaluations: 3, method: random}\n")
    (job,) = expand(load_experiment(spec))
    assert job["worst_case"] == [{"box": ["body_mass.pole=0.5:2"], "method": "random", "evaluations": 3}]
    from testbed.jobs import run_job

    out = run_job(job, str(tmp_path / "out"))
    searched = [r for r in out["records"] if "search" in r["params"]]
    assert len(searched) == 4 and {r["params"]["search"] for r in searched} == {"random"}
    for bad, pattern in [("method: annealing", "unknown worst_case method"), ("box: [body_mass.pole=2:1]", "greater than LOW"),
                         ("box: [body_mass.pole=0.5:2], evaluations: 0", "evaluations")]:
        spec.write_text(f"name: wc\nagents: [{{name: random}}]\nscenarios: [{IP}]\n"
                        f"worst_case:\n  - {{box: [body_mass.pole=0.5:2], {bad}}}\n".replace("box: [body_mass.pole=0.5:2], box", "box"))
        with pytest.raises(UserError, match=pattern):
            load_experiment(spec)
