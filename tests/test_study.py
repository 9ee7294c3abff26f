"""A robustness study is one spec: train on one scenario, evaluate on others; results and report
group by condition (agent label x training scenario) and aggregate over seeds."""

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from testbed.cli import app
from testbed.experiment_spec import ExperimentSpec, expand, load_experiment
from testbed.records import EpisodeRecord
from testbed.runner import run_experiment
from testbed.store import ResultsStore
from testbed import study

from cli_inprocess import run_inprocess

RANDOMIZED = {"id": "test/IP-randomized-v0", "source": "gymnasium:InvertedPendulum-v5", "time_limit": 200,
              "layers": [{"type": "dynamics", "params": {"parameters": [{"field": "body_mass", "low": 0.5, "high": 1.5}]}}]}
SPEC = {
    "name": "study",
    "agents": [{"name": "random", "label": "rnd"}],
    "scenarios": [{"id": "test/IP-v0", "source": "gymnasium:InvertedPendulum-v5", "time_limit": 200}, RANDOMIZED],
    "seeds": [0, 1, 2],
    "evaluation": {"episodes": 2, "seed": 10},
    "evaluate_on": [
        {"scenario": "mujoco/InvertedPendulum-hard-v0"},
        {"scenario": "mujoco/InvertedPendulum-v5", "grids": [["body_mass.pole=0.5:2.0:2", "geom_friction=0.5:1.5:2"]]},
        {"scenario": "mujoco/InvertedPendulum-v5", "grids": [["body_mass.pole=0.5:2.0:3"]]},
    ],
}


def _write(tmp_path, spec):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_specs_without_evaluate_on_keep_their_job_ids():
    base = {k: v for k, v in SPEC.items() if k != "evaluate_on"}
    jobs = expand(ExperimentSpec.model_validate(base))
    assert all("evaluate_on" not in j for j in jobs)
    with_targets = expand(ExperimentSpec.model_validate(SPEC))
    assert {j["id"] for j in jobs}.isdisjoint({j["id"] for j in with_targets})


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    spec = load_experiment(_write(tmp, SPEC))
    counts = run_experiment(spec, tmp / "r.db", tmp / "runs")
    assert counts["ran"] == 6 and not counts["failures"]
    assert counts["train_s"] >= 0 and counts["eval_s"] > 0
    store = ResultsStore(tmp / "r.db", create=False)
    recs = store.records()
    store.close()
    return tmp, recs


def test_records_say_what_trained_and_what_evaluated(stored):
    _, recs = stored
    assert {r.trained_on for r in recs} == {"test/IP-v0", "test/IP-randomized-v0"}
    assert {r.label for r in recs} == {"rnd"} and {r.train_seed for r in recs} == {0, 1, 2}
    evaluated = {r.scenario_id for r in recs}
    assert {"mujoco/InvertedPendulum-hard-v0", "mujoco/InvertedPendulum-v5", "test/IP-v0"} <= evaluated
    per_job = len(recs) / 6
    assert per_job == 2 + 2 + (2 + 2 + 4 * 2) + (2 + 2 + 3 * 2)  # training scenario, hard, then per target: nominal, grid nominal point, points


def test_transfer_aggregates_over_seeds_with_a_paired_gap(stored):
    _, recs = stored
    rows = {(r.condition, r.scenario_id): r for r in study.transfer(recs)}
    home = rows[(("rnd", "test/IP-v0"), "test/IP-v0")]
    hard = rows[(("rnd", "test/IP-v0"), "mujoco/InvertedPendulum-hard-v0")]
    assert home.seeds == 3 and home.gap is None and hard.gap is not None
    means = study.per_policy_means(recs)
    expected = np.mean([means[(("rnd", "test/IP-v0"), "test/IP-v0", f"seed {s}")] -
                        means[(("rnd", "test/IP-v0"), "mujoco/InvertedPendulum-hard-v0", f"seed {s}")] for s in (0, 1, 2)])
    assert hard.gap.value == pytest.approx(expected)
    assert hard.gap.low <= hard.gap.value <= hard.gap.high
    assert len(study.nominal(recs)) == 6 * (2 + 2 + 2 + 2)  # the headline holds nominal episodes only


def test_grid_statistics_over_seeds(stored):
    _, recs = stored
    rows = [r for r in study.grid_study(recs) if r.condition == ("rnd", "test/IP-v0")]
    assert sorted(len(r.axes) for r in rows) == [1, 2]
    two = next(r for r in rows if len(r.axes) == 2)
    assert two.points == 4 and two.seeds == 3 and two.worst.value <= two.mean.value
    cells = study.grid_cells(recs)
    key = (("rnd", "test/IP-v0"), "mujoco/InvertedPendulum-v5", two.axes)
    assert len(cells[key]) == 4 and all(len(e.per_seed) == 3 for e in cells[key].values())


def test_results_and_report_tell_the_same_story(stored, tmp_path):
    tmp, recs = stored
    result = CliRunner().invoke(app, ["results", str(tmp / "r.db")], terminal_width=250)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "rnd · seed 0" in text and "rnd · seed 2" in text  # seed rows are told apart
    assert "trained on x evaluated on" in text and "gap to training scenario" in text
    assert "robustness over each grid" in text
    from testbed.report.html import write_report

    page = write_report(recs, tmp_path / "report").read_text()
    assert page.count("minus") >= 1  # a difference heatmap between the two conditions
    assert "fig-curve-0" in page  # the one-parameter grid is drawn
    assert "Over seeds: trained on x evaluated on" in page
    assert "No worst-case searches in these records." in page  # an empty section says so


def test_an_evaluation_scenario_with_other_spaces_is_refused_in_one_line(tmp_path):
    spec = {**SPEC, "evaluate_on": [{"scenario": "mujoco/Hopper-v5"}]}
    proc = run_inprocess("run", str(_write(tmp_path, spec)), "--db", str(tmp_path / "r.db"))
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "differs" in lines[0] and "Hopper-v5" in lines[0], lines


def test_a_layer_that_cannot_apply_to_the_training_source_is_refused_before_any_job(tmp_path):
    from scenarios import UserError

    bad = {**RANDOMIZED, "id": "test/IP-pushed-v0", "layers": [{"type": "push", "params": {
        "body": "torso", "every": 10, "impulse": [1.0, 1.0]}}]}
    with pytest.raises(UserError, match="no body named torso"):
        load_experiment(_write(tmp_path, {**SPEC, "scenarios": [bad]}))


@pytest.mark.parametrize("target, message", [
    ({"scenario": "mujoco/InvertedPendulum-v5", "grids": [["body_mas.pole=0.5:2:2"]]}, "unknown field 'body_mas'"),
    ({"scenario": "mujoco/InvertedPendulm-v5"}, "InvertedPendulm"),
    ({"scenario": "mujoco/InvertedPendulum-v5", "attacks": [{"kind": "cw", "eps": [0.1]}]}, "unknown attack 'cw'"),
])
def test_bad_evaluation_targets_are_refused(tmp_path, target, message):
    from scenarios import UserError

    with pytest.raises(UserError, match=message):
        load_experiment(_write(tmp_path, {**SPEC, "evaluate_on": [target]}))


def test_a_per_agent_list_overrides_the_spec_s():
    spec = {**SPEC, "agents": [{"name": "random", "label": "a"}, {"name": "random", "label": "b", "evaluate_on": []}]}
    jobs = expand(ExperimentSpec.model_validate(spec))
    assert {j["label"] for j in jobs if "evaluate_on" in j} == {"a"}


def test_summary_rows_of_records_without_experiment_fields_keep_their_checkpoint_name():
    rec = EpisodeRecord(run_id="r", scenario_id="s", scenario={}, agent="ppo", checkpoint="/x/runs/seed3-abc", seed=0,
                        episode=0, returns={"agent_0": 1.0}, team_return=1.0, aggregation="sum", length=1, terminated=True,
                        truncated=False, wall_time_s=0.0, deterministic=True, created_at="now")
    assert study.short_label(rec) == "ppo · seed3-abc" and study.condition(rec) == ("ppo", "")


def test_the_shipped_robustness_study_validates_and_expands():
    spec = load_experiment("examples/robustness_study.yaml")
    jobs = expand(spec)
    assert len(jobs) == 10 and {j["scenario"]["id"] for j in jobs} == {"mujoco/Hopper-v5", "examples/Hopper-randomized-v0"}
    targets = [t["scenario"]["id"] for t in jobs[0]["evaluate_on"]]
    assert targets == ["mujoco/Hopper-v5", "mujoco/Hopper-easy-v0", "mujoco/Hopper-medium-v0", "mujoco/Hopper-hard-v0",
                       "sim2real/Hopper-real-v0"]
    assert jobs[0]["evaluate_on"][0]["grids"] == [["body_mass.torso=0.5:2.0:10", "geom_friction=0.5:1.5:10"]]


def test_run_takes_a_steps_override(tmp_path):
    spec = {**SPEC, "agents": [{"name": "ppo", "steps": 100_000, "hparams": {"n_envs": 2, "n_steps": 32, "batch_size": 32}}],
            "scenarios": [SPEC["scenarios"][0]], "seeds": [0], "evaluate_on": []}
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, spec)), "--db", str(tmp_path / "r.db"), "--out",
                                      str(tmp_path / "runs"), "--steps", "64"])
    assert result.exit_code == 0, result.output
    import json

    meta = json.loads(next((tmp_path / "runs").rglob("agent.json")).read_text())
    assert meta["steps"] == 64
