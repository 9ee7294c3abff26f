"""Hyperparameter tuning: a study runs, reports intermediate medians, resumes from its storage,
records and retries a failed trial once, and writes a config that train and specs take."""

import subprocess
import sys

import numpy as np
import pytest
import yaml

import agents
from agents import hyperparams
from scenarios import UserError
from testbed import tuning

from cli_inprocess import run_inprocess

CARTPOLE = "classic/CartPole-v1"
SMALL = {"n_envs": 2, "n_steps": 64, "batch_size": 64}
SPACE = {"learning_rate": {"low": 1e-4, "high": 3e-3, "log": True}, "gamma": {"choices": [0.95, 0.99]}}


def _space(tmp_path, space=SPACE):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"search": space}))
    return path


@pytest.mark.parametrize("name", ["ppo", "a2c", "sac", "td3", "dqn", "fast_ppo", "fast_sac"])
def test_declared_search_spaces_fit_the_agents_hyperparameters(name):
    space = tuning.load_space(name)
    defaults = agents.agent_class(name).default_hyperparameters()
    for key, param in space.items():
        values = param.choices if param.choices is not None else [param.low, param.high]
        for v in values:
            hyperparams.check_values(name, {key: v}, defaults)


def test_a_study_reports_medians_over_seeds_and_writes_a_config(tmp_path):
    study = tuning.tune("ppo", CARTPOLE, trials=2, seeds=2, steps=256, storage=None, evals=2, eval_episodes=2,
                        space_file=_space(tmp_path), fixed=SMALL)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 2
    for t in done:
        assert len(t.intermediate_values) == 2
        last = t.user_attrs["eval1"]
        assert last["steps"] == [256, 256] and t.value == pytest.approx(sorted(last["returns"])[0] / 2 + sorted(last["returns"])[1] / 2)
    config = tuning.best_config(study, "ppo", CARTPOLE, SMALL)
    path = tuning.write_config(config, tmp_path / "best.yaml")
    assert tuning.read_config(path) == {**SMALL, **study.best_trial.params}


def test_a_stored_study_resumes_to_its_trial_count(tmp_path):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    kwargs = dict(seeds=1, steps=128, storage=storage, evals=1, eval_episodes=1, space_file=_space(tmp_path), fixed=SMALL)
    first = tuning.tune("ppo", CARTPOLE, trials=2, **kwargs)
    assert tuning.counted(first) == 2
    params = [t.params for t in first.trials]
    again = tuning.tune("ppo", CARTPOLE, trials=3, **kwargs)  # the same command with a larger count: one more trial
    assert tuning.counted(again) == 3 and [t.number for t in again.trials] == [0, 1, 2]
    assert [t.params for t in again.trials[:2]] == params


def test_a_failing_trial_is_recorded_and_retried_once(tmp_path, monkeypatch):
    def diverge(self, trial, params):  # a trial that fails inside training (e.g. SB3 asserting on NaNs)
        raise AssertionError("the policy's parameters became NaN")

    monkeypatch.setattr(tuning.Objective, "_run", diverge)
    space = _space(tmp_path, {"batch_size": {"choices": [32, 64]}})
    storage = f"sqlite:///{tmp_path / 'fail.db'}"
    with pytest.raises(UserError, match="5 trials in a row failed; the last with AssertionError"):
        tuning.tune("ppo", CARTPOLE, trials=1, seeds=1, steps=128, storage=storage, evals=1, eval_episodes=1,
                    space_file=space, fixed={"n_envs": 2, "n_steps": 64})
    trials = tuning.open_study(storage, f"ppo-{CARTPOLE}", 0).trials
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(failed) >= 5 and all(t.user_attrs["error"].startswith("AssertionError") for t in failed)
    retries = [t for t in failed if "retry_of" in t.user_attrs]
    assert retries and all(trials[t.user_attrs["retry_of"]].params == t.params for t in retries)
    originals = [t for t in failed if "retry_of" not in t.user_attrs]
    assert {t.user_attrs["retry_of"] for t in retries} <= {t.number for t in originals}  # a retry is never retried


def test_a_search_space_with_a_value_the_agent_refuses_is_refused_before_any_trial(tmp_path):
    with pytest.raises(UserError, match="search key 'batch_size': ppo: hyperparameter batch_size must be an integer >= 2"):
        tuning.load_space("ppo", _space(tmp_path, {"batch_size": {"choices": [1, 64]}}))
    with pytest.raises(UserError, match="search key 'gamma'.*must be a number in"):
        tuning.load_space("ppo", _space(tmp_path, {"gamma": {"low": 0.9, "high": 1.5}}))


@pytest.mark.parametrize("fast,base", [("fast_ppo", "ppo"), ("fast_sac", "sac")])
def test_the_lean_learners_tune_in_their_sb3_twins_space_from_their_tuned_defaults(fast, base):
    """fast_ppo and fast_sac take ppo's and sac's hyperparameter names and tuned entries, but `testbed tune fast_ppo`
    said 'declares no search space', and their tuned defaults (what a fraction_of key and the pair checks read)
    were the class defaults."""
    assert tuning.load_space(fast) == tuning.load_space(base)
    for sid in ("classic/Pendulum-v1", "mujoco/Hopper-v5", "classic/CartPole-v1"):
        assert hyperparams.tuned_defaults(fast, sid) == hyperparams.tuned_defaults(base, sid)
    assert tuning.trial_base(fast, "mujoco/Hopper-v5", {}) == tuning.trial_base(base, "mujoco/Hopper-v5", {})
    with pytest.raises(UserError, match=r"bc declares no search space \(agents with one: a2c, dqn, fast_ppo, fast_sac, ppo"):
        tuning.load_space("bc")


def test_bad_tuning_input_is_one_line(tmp_path):
    with pytest.raises(UserError, match="reinforce declares no search space"):
        tuning.load_space("reinforce")
    with pytest.raises(UserError, match="search key 'lr' is not a hyperparameter of ppo"):
        tuning.load_space("ppo", _space(tmp_path, {"lr": {"low": 0.1, "high": 0.2}}))
    with pytest.raises(UserError, match="a range needs low < high"):
        tuning.load_space("ppo", _space(tmp_path, {"gamma": {"low": 0.99, "high": 0.9}}))


def test_cli_tunes_then_trains_with_the_config_and_a_spec_takes_it(tmp_path):
    best = tmp_path / "best.yaml"
    cmd = [sys.executable, "-m", "testbed.cli", "tune", "ppo", CARTPOLE, "--trials", "1", "--seeds", "1", "--steps", "128",
           "--evals", "1", "--eval-episodes", "1", "--storage", "memory", "--space", str(_space(tmp_path)),
           "--set", "n_envs=2", "--set", "n_steps=64", "--set", "batch_size=64", "--out", str(best)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "config written to" in proc.stdout
    train = run_inprocess("train", "ppo", CARTPOLE, "--steps", "128", "--config", str(best), "--set", "gamma=0.9",
                          "--out", str(tmp_path / "ck"))
    assert train.returncode == 0, train.stderr
    meta = (tmp_path / "ck" / "agent.json").read_text()
    assert '"gamma": 0.9' in meta and '"n_steps": 64' in meta
    from testbed.experiment_spec import load_experiment

    spec = tmp_path / "study.yaml"
    spec.write_text(f"name: s\nagents:\n  - {{name: ppo, config: best.yaml, hparams: {{gamma: 0.9}}}}\nscenarios: [{CARTPOLE}]\nseeds: [0]\n")
    hp = load_experiment(spec).agents[0].hparams
    assert hp["gamma"] == 0.9 and hp["n_steps"] == 64 and "learning_rate" in hp


@pytest.mark.slow  # ~10 s: two spawned worker processes
def test_parallel_workers_share_one_stored_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    study = tuning.tune("ppo", CARTPOLE, trials=4, seeds=1, steps=128, storage=storage, evals=1, eval_episodes=1,
                        space_file=_space(tmp_path), fixed=SMALL, workers=2)
    assert 4 <= tuning.counted(study) <= 5  # each worker stops at the count; one may finish a last trial
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == len(study.trials)


def test_objective_mean_and_min_combine_the_seeds(tmp_path):
    for kind, fn in (("mean", lambda r: sum(r) / len(r)), ("min", min)):
        study = tuning.tune("ppo", CARTPOLE, trials=1, seeds=2, steps=128, storage=None, evals=1, eval_episodes=2,
                            space_file=_space(tmp_path), fixed=SMALL, objective=kind)
        t = study.trials[0]
        assert t.value == pytest.approx(fn(t.user_attrs["eval0"]["returns"]))
    with pytest.raises(UserError, match="unknown objective 'best'"):
        tuning.tune("ppo", CARTPOLE, trials=1, seeds=1, steps=128, storage=None, objective="best")


def test_a_fixed_value_leaves_the_search_space_and_holds_in_every_trial(tmp_path):
    """``--set n_steps=64`` with ppo's shipped space (which searches n_steps and batch_size): the sampled
    values overrode the fixed ones, so every trial trained whole 1024-2048-step rollouts on a 128-step budget
    and was pruned ("no finished trial yet")."""
    space = _space(tmp_path, {**SPACE, "n_steps": {"choices": [512, 1024]}, "batch_size": {"choices": [128, 256]}})
    study = tuning.tune("ppo", CARTPOLE, trials=1, seeds=1, steps=128, storage=None, evals=1, eval_episodes=1,
                        space_file=space, fixed=SMALL)
    trial = study.trials[0]
    assert trial.state.name == "COMPLETE" and set(trial.params) == {"learning_rate", "gamma"}
    assert tuning.best_config(study, "ppo", CARTPOLE, SMALL)["hparams"]["n_steps"] == 64
    with pytest.raises(UserError, match="every hyperparameter of ppo's search space is fixed by --set"):
        tuning.tune("ppo", CARTPOLE, trials=1, seeds=1, steps=128, storage=None, space_file=_space(tmp_path, {"gamma": {"choices": [0.9]}}),
                    fixed={"gamma": 0.99})


def test_a_study_without_a_finished_trial_says_why(tmp_path):
    space = _space(tmp_path, {"n_steps": {"choices": [512]}})
    study = tuning.tune("ppo", CARTPOLE, trials=1, seeds=1, steps=64, storage=None, evals=1, eval_episodes=1,
                        space_file=space, fixed={"n_envs": 2, "batch_size": 64})
    with pytest.raises(UserError, match=r"no finished trial yet \(last: trained 1024 steps for a budget of 64; raise --steps\)"):
        tuning.best_config(study, "ppo", CARTPOLE)


def test_fixed_values_are_checked_against_the_space_not_the_searched_keys_defaults():
    """n_steps 64 x 2 envs beside ppo's default batch_size 256 was refused before any trial although the
    space searches batch_size; a fixed value no draw of the space fits is still refused in one line."""
    fixed = {"n_envs": 2, "n_steps": 64}
    tuning.check_fixed("ppo", CARTPOLE, 0, fixed, {"batch_size": tuning.SearchParam(choices=[256, 32])})
    with pytest.raises(UserError, match=r"batch_size (256|512) is larger than the rollout"):
        tuning.check_fixed("ppo", CARTPOLE, 0, fixed, {"batch_size": tuning.SearchParam(choices=[256, 512])})
    with pytest.raises(UserError, match="gamma must be"):
        tuning.check_fixed("ppo", CARTPOLE, 0, {"gamma": 1.5}, {"batch_size": tuning.SearchParam(choices=[32])})


def test_a_fraction_of_key_divides_its_base_key_as_rl_zoo_samples_dqns_gradient_steps(tmp_path):
    """dqn's space drew gradient_steps (up to 128) independently of train_freq (down to 1): a trial could take
    128 gradient steps per environment step and ran for many minutes on a 600-step budget; rl-zoo draws a
    divisor of train_freq instead."""
    space = tuning.load_space("dqn")
    assert space["gradient_steps"].fraction_of == "train_freq"
    rng = np.random.default_rng(0)
    for _ in range(50):
        drawn = {"train_freq": int(rng.choice(space["train_freq"].choices)), "gradient_steps": int(rng.choice(space["gradient_steps"].choices))}
        hp = tuning.resolve(space, drawn, {})
        assert 1 <= hp["gradient_steps"] <= hp["train_freq"] and hp["gradient_steps"] == max(drawn["train_freq"] // drawn["gradient_steps"], 1)
    assert tuning.resolve(space, {"gradient_steps": 4}, {"train_freq": 16})["gradient_steps"] == 4  # a fixed or default base
    study = tuning.tune("ppo", CARTPOLE, trials=1, seeds=1, steps=128, storage=None, evals=1, eval_episodes=1,
                        space_file=_space(tmp_path, {"n_steps": {"choices": [64]}, "batch_size": {"fraction_of": "n_steps", "choices": [2]}}),
                        fixed={"n_envs": 2})
    assert study.trials[0].user_attrs["hparams"] == {"n_steps": 64, "batch_size": 32}
    assert tuning.best_config(study, "ppo", CARTPOLE, {"n_envs": 2})["hparams"] == {"n_envs": 2, "n_steps": 64, "batch_size": 32}
    with pytest.raises(UserError, match="fraction_of needs choices of positive integers"):
        tuning.load_space("ppo", _space(tmp_path, {"batch_size": {"fraction_of": "n_steps", "low": 1, "high": 4}}))
    with pytest.raises(UserError, match="fraction_of 'n_stepz' is not another hyperparameter of ppo"):
        tuning.load_space("ppo", _space(tmp_path, {"batch_size": {"fraction_of": "n_stepz", "choices": [2]}}))
