"""Hyperparameter values are read as numbers where YAML 1.2 and JSON read numbers (``1e-3``),
checked against each default's type for every agent, and refused in one line."""

import pytest
import yaml

import agents
from agents import hyperparams, index
from agents.registry import AGENTS
from scenarios import UserError, yaml_loader

from cli_inprocess import run_inprocess


@pytest.mark.parametrize("text,value", [("1e-3", 0.001), ("3E+4", 30000.0), ("-2.5e-1", -0.25), (".5", 0.5),
                                        ("lin_1e-3", "lin_1e-3"), ("[64, 64]", [64, 64]), ("abc", "abc")])
def test_yaml_numbers_follow_yaml_1_2(text, value):
    assert yaml_loader.load(text) == value
    assert hyperparams.parse_assignments([f"k={text}"]) == {"k": value}


def _defaults(name):
    fn = getattr(agents.agent_class(name), "default_hyperparameters", None)
    return fn() if fn else {}


TUNED = [(name, sid) for name in agents.list_names() if (hyperparams.DEFAULTS / f"{name}.yaml").is_file()
         for sid in (yaml.safe_load((hyperparams.DEFAULTS / f"{name}.yaml").read_text()) or {}) if sid != "search"]


@pytest.mark.parametrize("name,entry", TUNED)
def test_every_shipped_tuned_value_has_its_defaults_type(name, entry):
    data = yaml_loader.load((hyperparams.DEFAULTS / f"{name}.yaml").read_text())[entry]
    hyperparams.check_values(name, data, _defaults(name))  # raises on a mismatch


@pytest.mark.parametrize("name", [n for n in agents.list_names() if _defaults(n)])
def test_every_agent_refuses_a_wrongly_typed_value_in_one_line(name):
    defaults = _defaults(name)
    typed = {k: v for k, v in defaults.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert typed, f"{name} has no numeric hyperparameter to check"
    key = sorted(typed)[0]
    with pytest.raises(UserError, match=rf"^{name}: hyperparameter {key} must be an? .* got 'abc'"):
        agents.make(name, "classic/CartPole-v1", seed=0, **{key: "abc"})


def test_integral_numbers_and_integers_are_coerced():
    out = hyperparams.check_values("ppo", {"n_steps": 256.0, "learning_rate": 1, "clip_range": "lin_0.2"},
                                   _defaults("ppo"))
    assert out == {"n_steps": 256, "learning_rate": 1.0, "clip_range": "lin_0.2"}
    assert type(out["n_steps"]) is int and type(out["learning_rate"]) is float
    with pytest.raises(UserError, match="n_steps must be an integer, got 12.5"):
        hyperparams.check_values("ppo", {"n_steps": 12.5}, _defaults("ppo"))
    with pytest.raises(UserError, match="normalize must be a boolean"):
        hyperparams.check_values("ppo", {"normalize": 1}, _defaults("ppo"))


def test_cli_set_reads_1e_3_and_refuses_abc(tmp_path):
    ok = run_inprocess("train", "ppo", "classic/CartPole-v1", "--steps", "64", "--set", "learning_rate=1e-3",
                       "--set", "n_steps=32", "--set", "batch_size=32", "--out", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stderr
    assert '"learning_rate": 0.001' in (tmp_path / "ok" / "agent.json").read_text()
    bad = run_inprocess("train", "ppo", "classic/CartPole-v1", "--steps", "64", "--set", "n_steps=abc", "--out", str(tmp_path / "bad"))
    lines = [line for line in (bad.stdout + bad.stderr).splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1 and "n_steps must be an integer, got 'abc'" in lines[0], lines


def test_experiment_spec_reads_1e_3_and_refuses_a_wrong_type_before_any_job(tmp_path):
    from testbed.experiment_spec import load_experiment

    spec = tmp_path / "s.yaml"
    body = "name: s\nagents:\n  - {{name: ppo, steps: 100, hparams: {{learning_rate: 1e-3{extra}}}}}\nscenarios: [classic/CartPole-v1]\nseeds: [0]\n"
    spec.write_text(body.format(extra=""))
    assert load_experiment(spec).agents[0].hparams == {"learning_rate": 0.001}
    spec.write_text(body.format(extra=", n_steps: abc"))
    with pytest.raises(UserError, match="experiment s: ppo: hyperparameter n_steps must be an integer"):
        load_experiment(spec)


OWN_OFF_POLICY = [("double_dqn", "classic/CartPole-v1", "update"), ("rainbow", "classic/CartPole-v1", "update"),
                  ("qmix", "mpe/simple_spread-v3", "_update"), ("iql", "mpe/simple_spread-v3", "_update"),
                  ("maddpg", "mpe/simple_spread-v3", "_update"), ("fast_sac", "classic/Pendulum-v1", "_update")]


@pytest.mark.parametrize("name,task,method", OWN_OFF_POLICY, ids=[c[0] for c in OWN_OFF_POLICY])
def test_gradient_steps_minus_one_takes_as_many_steps_as_the_round_collected(name, task, method, monkeypatch):
    """``gradient_steps: -1`` (SB3's "as many as environment steps") trains train_freq x copies steps a
    round, as the explicit number would; it once trained nothing in our own learners."""
    counts = []
    for value in (-1, 4):
        calls = []
        cls = AGENTS[name]
        original = getattr(cls, method)
        monkeypatch.setattr(cls, method, lambda self, *a, **k: (calls.append(1), original(self, *a, **k))[1])
        agents.make(name, task, seed=0, n_envs=2, train_freq=2, gradient_steps=value, learning_starts=0,
                    batch_size=4).learn(40)
        monkeypatch.undo()
        counts.append(len(calls))
    assert counts[0] == counts[1] > 0


@pytest.mark.parametrize("name", ["sac", "td3", "tqc", "fast_sac"])
def test_zero_critics_are_refused_in_one_line(name):
    """``policy_kwargs: {n_critics: 0}`` reached the optimizer as an empty parameter list (a traceback)."""
    with pytest.raises(UserError, match="policy_kwargs n_critics must be an integer >= 1, got 0"):
        agents.make(name, "classic/Pendulum-v1", seed=0, policy_kwargs={"n_critics": 0})


@pytest.mark.parametrize("name, overrides, pattern", [
    ("a3c", {"log_std_init": 1000.0}, r"log_std_init must be a number in \[-20, 20\], got 1000.0"),  # inf std: NaN actions
    ("impala", {"log_std_init": -1000.0}, r"log_std_init must be a number in \[-20, 20\]"),  # a zero std: a worker traceback
    ("fast_ppo", {"policy_kwargs": {"log_std_init": "x"}}, "policy_kwargs log_std_init must be a number"),  # float('x')
    ("fast_ppo", {"policy_kwargs": {"log_std_init": 1000.0}}, "policy_kwargs log_std_init must be a number"),
    ("fast_ppo", {"policy_kwargs": {"ortho_init": "no"}}, "policy_kwargs ortho_init must be a boolean"),  # read as true
    ("fast_sac", {"policy_kwargs": {"net_arch": [0]}}, "policy_kwargs net_arch must be a list of widths >= 1"),  # 1/0
    ("fast_sac", {"policy_kwargs": {"net_arch": "abc"}}, "policy_kwargs net_arch must be a list of widths >= 1"),
    ("ppo", {"policy_kwargs": {"net_arch": {"pi": [64], "vf": [2.5]}}}, "policy_kwargs net_arch must be a list"),
    ("fast_sac", {"action_noise": {"type": "normal", "std": "x"}}, "action_noise std must be a finite number >= 0"),
    ("td3", {"action_noise": {"type": "normal", "std": -1}}, "action_noise std must be a finite number >= 0"),
    ("fast_sac", {"action_noise": {"sigma": 0.3}}, "action_noise takes the keys type and std, got sigma"),  # ignored
    ("ddpg", {"action_noise": {"type": "brownian"}}, "unknown action_noise type 'brownian'"),
])
def test_values_inside_policy_kwargs_and_action_noise_are_refused_in_one_line(name, overrides, pattern):
    """A value inside ``policy_kwargs`` or ``action_noise`` that cannot be what its name says is refused
    before anything is built (``hyperparams.check_values``: also the CLI's ``--set`` and experiment
    specs), not met as a NumPy or torch traceback, a divergence, or silently read as something else."""
    from agents import index

    with pytest.raises(UserError, match=pattern):
        index.check_overrides(name, overrides)
    with pytest.raises(UserError, match=pattern):
        agents.make(name, "classic/Pendulum-v1", seed=0, **overrides)


def test_valid_policy_kwargs_and_action_noise_forms_pass():
    hyperparams.check_values("ppo", {"policy_kwargs": {"net_arch": {"pi": [64], "vf": [64]}, "log_std_init": -2,
                                                      "ortho_init": False}}, _defaults("ppo"))
    hyperparams.check_values("td3", {"action_noise": {"type": "ornstein_uhlenbeck", "std": 0}}, _defaults("td3"))
    out = hyperparams.check_values("fast_sac", {"policy_kwargs": {"net_arch": [16.0, 8]}}, _defaults("fast_sac"))
    assert out["policy_kwargs"]["net_arch"] == [16, 8] and type(out["policy_kwargs"]["net_arch"][0]) is int


def test_numpy_scalars_and_arrays_are_the_python_values_they_hold():
    """``np.int64(32)`` (a grid, ``np.arange``) was refused as "must be an integer ... (a string)"; NumPy
    values now reach the learner as Python ints, floats, booleans and lists, and another object's
    refusal names its type."""
    import numpy as np

    agent = agents.make("rainbow", "classic/CartPole-v1", seed=0, batch_size=np.int64(32), gamma=np.float64(0.5),
                        noisy=np.bool_(False), net_arch=np.array([8, 8]))
    h = agent.hparams
    assert (h["batch_size"], h["gamma"], h["noisy"], h["net_arch"]) == (32, 0.5, False, [8, 8])
    assert [type(h[k]) for k in ("batch_size", "gamma", "noisy", "net_arch")] == [int, float, bool, list]
    with pytest.raises(UserError, match=r"batch_size must be an integer, got <object .*> \(of type object; default 64\)"):
        agents.make("rainbow", "classic/CartPole-v1", batch_size=object())


COUNTS_FOR_THE_MACHINE = {"torch_threads": 1024, "nthread": 1024, "n_envs": 100_000, "n_workers": 1024}
"""Counts with a ceiling: at 10^9, torch_threads aborted the whole process in OpenMP's allocator
(no traceback, no line), nthread ended in MuJoCo's FatalError traceback, n_envs built copies one
by one for days before memory ran out, and a3c's n_workers built a process object per worker first."""


@pytest.mark.parametrize("name,key", [(n, k) for n in agents.list_names() for k in COUNTS_FOR_THE_MACHINE
                                      if k in (index.entry(n)["hyperparameters"] or index.entry(n)["defaults"])])
def test_thread_and_copy_counts_beyond_any_machine_are_refused_in_one_line(name, key):
    top = COUNTS_FOR_THE_MACHINE[key]
    assert index.check_overrides(name, {key: top}) == {key: top}
    for bad in (top + 1, 10**9):
        with pytest.raises(UserError, match=rf"^{name}: hyperparameter {key} must be an integer in \[1, {top}\], got {bad}$"):
            index.check_overrides(name, {key: bad})


@pytest.mark.parametrize("name,key,value,default", [("fast_ppo", "sde_sample_freq", 0, -1), ("fast_sac", "n_steps", 3, 1)])
def test_an_sb3_option_the_own_learner_lacks_names_the_valid_value(name, key, value, default):
    """The refusal said to use the SB3 learner but not which value this one takes (sweep: fast_ppo sde_sample_freq=0)."""
    scenario = "classic/CartPole-v1" if name == "fast_ppo" else "classic/Pendulum-v1"
    with pytest.raises(UserError, match=rf"^{name} does not implement {key}={value} \(valid: {key}={default}; the SB3-backed"):
        agents.make(name, scenario, seed=0, **{key: value})


def test_worker_cpus_beyond_any_machine_are_refused_in_one_line():
    """impala sizes a local Ray instance to n_workers x worker_cpus: at 10^9 CPUs the run hung."""
    assert index.check_overrides("impala", {"worker_cpus": 1024}) == {"worker_cpus": 1024.0}
    with pytest.raises(UserError, match=r"^impala: hyperparameter worker_cpus must be a number in \(0, 1024\], got 1000000000.0$"):
        index.check_overrides("impala", {"worker_cpus": 1e9})


@pytest.mark.parametrize("name", ["sac", "fast_sac", "tqc"])
@pytest.mark.parametrize("value", [1e40, "auto_1e40"])
def test_an_entropy_coefficient_past_float32_is_refused_in_one_line(name, value):
    """ent_coef 1e40 (or auto_1e40, its initial value) overflowed to inf in float32, and the run ended in a
    divergence line blaming learning_rate."""
    with pytest.raises(UserError, match=rf"^{name}: hyperparameter ent_coef must be a number in \[0, 3.4e\+38\] \(or auto or "
                                        r"auto_<init in \(0, 3.4e\+38\]>\), got"):
        agents.make(name, "classic/Pendulum-v1", seed=0, ent_coef=value)
