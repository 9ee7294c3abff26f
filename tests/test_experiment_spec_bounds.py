"""An experiment spec's evaluation seed and attack budgets are held to the bounds the command line
holds them to (``--seed`` >= 0, ``--eps`` from 0 to MAX_EPS): a negative seed was wrapped into a
different stored seed, and a negative budget let the job finish with its attack silently skipped
(and marked done, so a corrected rerun never ran it)."""

from __future__ import annotations

import sqlite3

import pytest

from scenarios import UserError
from testbed.experiment_spec import load_experiment
from tests.test_cli import assert_user_error, run

BASE = "name: t\nagents: [{name: random}]\nscenarios: [classic/CartPole-v1]\ntrain_steps: 0\n"


@pytest.mark.parametrize("body,match", [
    ("evaluation: {episodes: 1, seed: -1}", r"field 'evaluation.seed': Input should be greater than or equal to 0"),
    ("evaluation: {episodes: 1, seed: 99999999999999999999}", r"field 'evaluation.seed': Input should be less than or equal to"),
    ("attacks: [{kind: random, eps: [0.1, -0.1]}]", r"field 'attacks.0.eps.1': Input should be greater than or equal to 0"),
    ("attacks: [{kind: random, eps: [1e300]}]", r"field 'attacks.0.eps.0': Input should be less than or equal to 1000000"),
    ("evaluate_on: [{scenario: classic/CartPole-v1, attacks: [{kind: random, eps: [-1]}]}]",
     r"field 'evaluate_on.0.attacks.0.eps.0': Input should be greater than or equal to 0"),
    ("seeds: -2", r"field 'seeds': a count of seeds must be a whole number >= 1, got -2 \(valid: a count N"),
    ("seeds: 0", r"field 'seeds': a count of seeds must be a whole number >= 1, got 0"),
    ("seeds: true", r"field 'seeds': a count of seeds must be a whole number >= 1, got True"),
])
def test_out_of_range_evaluation_seeds_and_budgets_are_refused_when_loaded(tmp_path, body, match):
    path = tmp_path / "spec.yaml"
    path.write_text(BASE + body + "\n")
    with pytest.raises(UserError, match=match) as e:
        load_experiment(path)
    assert "\n" not in str(e.value)


@pytest.mark.slow  # 6 s; the loader-level refusals above run by default
def test_testbed_run_refuses_a_negative_evaluation_seed_and_stores_nothing(tmp_path):
    db = tmp_path / "r.db"
    good = tmp_path / "good.yaml"
    good.write_text(BASE + "evaluation: {episodes: 1, seed: 5}\n")
    assert run("run", str(good), "--db", str(db), "--out", str(tmp_path / "runs"), cwd=tmp_path).returncode == 0
    before = sqlite3.connect(db).execute("select count(*) from episodes").fetchone()[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "evaluation: {episodes: 1, seed: -1}\n")
    assert_user_error(run("run", str(bad), "--db", str(db), "--out", str(tmp_path / "runs"), cwd=tmp_path),
                      r"evaluation.seed': Input should be greater than or equal to 0")
    assert sqlite3.connect(db).execute("select count(*) from episodes").fetchone()[0] == before


def test_budgets_at_the_bounds_still_load(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(BASE + "evaluation: {episodes: 1, seed: 0}\nattacks: [{kind: random, eps: [0, 1000000]}]\n")
    spec = load_experiment(path)
    assert spec.attacks[0].eps == [0.0, 1e6] and spec.evaluation.seed == 0


def test_the_seed_count_shorthand_still_expands(tmp_path):
    """``seeds: 3`` is seeds 0, 1 and 2 (the refusals above are of counts below 1 and of booleans)."""
    path = tmp_path / "spec.yaml"
    path.write_text(BASE + "seeds: 3\n")
    assert load_experiment(path).seeds == [0, 1, 2]


@pytest.mark.parametrize("agents_line, scenario, match", [
    # capabilities: ran every other job first, then failed the pets job
    ("[{name: random}, {name: pets}]", "classic/CartPole-v1",
     r"experiment t: pets supports continuous actions only; classic/CartPole-v1 has discrete actions"),
    # a pair the pets constructor alone refused
    ("[{name: random}, {name: pets, hparams: {particles: 7}}]", "classic/Pendulum-v1",
     r"experiment t: pets: particles 7 must be a multiple of ensemble_size 5 .* \(on classic/Pendulum-v1\)"),
    ("[{name: rainbow}]", "robotics/FetchReach-v4", r"experiment t: rainbow supports discrete actions only"),
])
def test_an_agent_that_cannot_train_on_a_scenario_is_refused_when_loaded(tmp_path, agents_line, scenario, match):
    path = tmp_path / "spec.yaml"
    path.write_text(f"name: t\nagents: {agents_line}\nscenarios: [{scenario}]\ntrain_steps: 10\n")
    with pytest.raises(UserError, match=match):
        load_experiment(path)


def test_a_single_agent_method_on_a_multi_agent_scenario_is_refused_when_loaded(tmp_path):
    """Its constructor alone refused it, so the study's other jobs ran first."""
    path = tmp_path / "spec.yaml"
    path.write_text("name: t\nagents: [{name: random}, {name: mbpo}]\nscenarios: [mpe/simple_spread_continuous-v3]\n"
                    "train_steps: 10\n")
    with pytest.raises(UserError, match=r"experiment t: mbpo is single-agent; mpe/simple_spread_continuous-v3 has 3 agents"):
        load_experiment(path)


@pytest.mark.parametrize("agent, scenario, match", [
    ("{name: i2a}", "toytext/FrozenLake-v1", r"i2a needs vector observations and discrete actions"),
    ("{name: a3c}", "mpe/simple_speaker_listener-v4", r"a3c shares one network across agents, so their spaces must match"),
    ("{name: fast_ppo, hparams: {sharing: none}}", "mpe/simple_spread-v3", r"fast_ppo does not implement sharing='none'"),
    ("{name: rainbow, hparams: {her: true}}", "classic/CartPole-v1", r"rainbow: her needs a goal-conditioned scenario"),
    ("{name: mbve, hparams: {reward: known}}", "mujoco/Reacher-hard-v0", r"mbve: reward: known, but mujoco/Reacher-hard-v0 has no"),
])
def test_what_a_constructor_refuses_is_refused_when_loaded(tmp_path, agent, scenario, match):
    """Each learner's ``check_scenario`` (its constructor's own checks, run without building) is part of a
    study's validation: these failed in their job after the study's other jobs had run."""
    path = tmp_path / "spec.yaml"
    path.write_text(f"name: t\nagents: [{{name: random}}, {agent}]\nscenarios: [{scenario}]\ntrain_steps: 10\n")
    with pytest.raises(UserError, match="experiment t: " + match):
        load_experiment(path)
