"""Typed agent configs (agents/fields.yaml, agents.config): every hyperparameter of every agent
has a type, range and meaning; every shipped default validates; out-of-range values and
inconsistent pairs are refused in one line before anything runs, from Python, the CLI and specs."""

from pathlib import Path

import pytest

import agents
from agents import config, hyperparams, index
from scenarios import UserError
from scenarios import yaml_loader

from cli_inprocess import run_inprocess

AGENTS = index.names()
DEFAULTS = Path(__file__).parents[1] / "agents" / "defaults"


@pytest.mark.parametrize("agent", AGENTS)
def test_every_hyperparameter_has_a_type_a_range_and_a_meaning(agent):
    info = index.entry(agent)
    for name in info["hyperparameters"] or info["defaults"]:
        s = config.spec(agent, name)
        assert s is not None, f"{agent}.{name} has no entry in agents/fields.yaml"
        assert s.get("doc") and s.get("type") in ("integer", "number", "boolean", "string", "list", "mapping", "any")
    model = config.config_model(agent)
    assert set(model.model_fields) == set(info["hyperparameters"] or info["defaults"])
    dumped = model().model_dump()  # the config round trip: defaults in, the same defaults out
    assert dumped == {k: info["defaults"].get(k) for k in dumped}


@pytest.mark.parametrize("agent", AGENTS)
def test_the_shipped_defaults_validate_for_every_tuned_scenario(agent):
    file = DEFAULTS / f"{agent}.yaml"
    scenarios_tuned = [k for k in (yaml_loader.load(file.read_text()) or {}) if k not in ("default", "search")] if file.is_file() else []
    for sid in [None, *scenarios_tuned]:
        cfg = config.config(agent, sid or "none/none").model_dump()
        assert cfg.keys() >= set(hyperparams.tuned_defaults(agent, sid or "none/none"))


def _outside(s):
    """A value just outside a field's range, if it has one."""
    if s.get("type") not in ("integer", "number"):
        return None
    for key, delta in (("min", -1), ("gt", 0), ("max", 1), ("lt", 0)):
        if key in s:
            v = s[key] + delta
            return int(v) if s["type"] == "integer" else float(v)
    return None


@pytest.mark.parametrize("agent", AGENTS)
def test_out_of_range_values_are_refused_naming_the_field_and_the_range(agent):
    info = index.entry(agent)
    tried = 0
    for name in info["hyperparameters"] or info["defaults"]:
        s = config.spec(agent, name)
        bad = _outside(s)
        if bad is not None:
            with pytest.raises(UserError, match=rf"^{agent}: hyperparameter {name} must be .*, got -?[0-9.]+$"):
                index.check_overrides(agent, {name: bad})
            tried += 1
        if "choices" in s:
            with pytest.raises(UserError, match=r"must be one of .*got 'bogus'"):
                index.check_overrides(agent, {name: "bogus"})
            tried += 1
    assert tried or not info["hyperparameters"]


@pytest.mark.parametrize("agent", AGENTS)
def test_nan_and_infinities_are_refused_for_every_numeric_field(agent):
    """NaN passes every comparison of a range check, so it needs its own refusal (found training NaN
    policies with ``gamma: .nan``); an infinity is never a setting (null means none)."""
    info = index.entry(agent)
    numeric = [n for n in info["hyperparameters"] or info["defaults"]
               if (config.spec(agent, n) or {}).get("type") in ("integer", "number")]
    for name in numeric:
        for bad in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(UserError, match=rf"^{agent}: hyperparameter {name} must be .*, got -?(nan|inf)( \(a number; default .*\))?$"):
                index.check_overrides(agent, {name: bad})
        if (config.spec(agent, name) or {}).get("schedule"):
            with pytest.raises(UserError, match=rf"hyperparameter {name} must be"):
                index.check_overrides(agent, {name: "lin_1e999"})
    assert numeric or not info["hyperparameters"]


@pytest.mark.parametrize("agent, overrides, pattern", [
    ("ppo", {"batch_size": 4096}, "larger than the rollout"),
    ("ppo", {"n_steps": 1, "n_envs": 1}, "at least 2 steps"),
    ("a2c", {"n_envs": 1, "n_steps": 1}, "at least 2 steps"),
    ("dqn", {"batch_size": 64, "buffer_size": 32}, "larger than the replay buffer"),
    ("rainbow", {"eps_start": 0.1, "eps_end": 0.5}, "epsilon would grow"),
    ("qrdqn", {"exploration_initial_eps": 0.01, "exploration_final_eps": 0.2}, "epsilon would grow"),
    ("jal", {"temperature": 0.5, "temperature_end": 1.0}, "temperature would grow"),
    ("cem", {"samples": 4, "elite_fraction": 0.1}, "keeps no elite"),  # mppi keeps no elite: accepted
    ("adr", {"initial": [0.5, 1.5], "limits": [0.8, 3.0]}, "not inside limits"),
])
def test_inconsistent_pairs_are_refused(agent, overrides, pattern):
    with pytest.raises(UserError, match=pattern):
        index.check_overrides(agent, overrides, "mujoco/Hopper-v5")
    with pytest.raises(UserError, match=pattern):
        config.config(agent, "mujoco/Hopper-v5", overrides)


def test_too_many_minibatches_name_the_rollout_and_the_valid_count():
    """The refusal named the rollout's size but not what is valid (sweep: mappo minibatches=10^9)."""
    with pytest.raises(UserError, match=r"^mappo: minibatches 1000 exceeds the rollout's 100 steps, n_steps x n_envs = "
                                        r"25 x 4 \(valid: minibatches <= 100\)$"):
        config.check_pairs("mappo", {"minibatches": 1000, "n_steps": 25, "n_envs": 4}, "on-policy")


def test_trpo_sub_sampling_that_keeps_one_step_is_refused():
    """Every k-th step of CartPole's 512 x 2 rollout: k >= 1024 kept one, whose advantage std is NaN; the
    policy turned NaN and the divergence line blamed the learning rate (sweep: sub_sampling_factor=10^9)."""
    with pytest.raises(UserError, match=r"^trpo: sub_sampling_factor 1024 keeps one step of the rollout, n_steps x n_envs "
                                        r"= 512 x 2 = 1024, .*\(valid: sub_sampling_factor < 1024, or normalize_advantage false\)$"):
        index.check_overrides("trpo", {"sub_sampling_factor": 1024}, "classic/CartPole-v1")  # agents.make's check
    index.check_overrides("trpo", {"sub_sampling_factor": 1023}, "classic/CartPole-v1")
    index.check_overrides("trpo", {"sub_sampling_factor": 10**9, "normalize_advantage": False}, "classic/CartPole-v1")


def test_pairs_use_the_scenarios_tuned_defaults():
    # CartPole's tuned PPO rollout is 32 x 8 = 256 steps; the default one is 2048 x 8
    index.check_overrides("ppo", {"batch_size": 1024}, "mujoco/Walker2d-v5")
    with pytest.raises(UserError, match="32 x 8 = 256"):
        index.check_overrides("ppo", {"batch_size": 1024}, "classic/CartPole-v1")


def test_agents_make_refuses_before_building():
    import agents

    with pytest.raises(UserError, match="gamma must be a number in"):
        agents.make("reinforce", "classic/CartPole-v1", gamma=1.5)
    with pytest.raises(UserError, match="larger than the rollout"):
        agents.make("ppo", "classic/CartPole-v1", batch_size=1024)


def test_cli_refusals_and_describe(tmp_path):
    from typer.testing import CliRunner

    from testbed.cli import app

    runner = CliRunner()
    for args, pattern in [(["--set", "gamma=1.5"], "gamma must be a number in [0, 1], got 1.5"),
                          (["--set", "batch_size=100000"], "larger than the rollout"),
                          (["--set", "sharing=bogus"], "must be one of full, group, none"),
                          (["--set", "learning_rate=lin_-1"], "learning_rate must be a number > 0")]:
        out = runner.invoke(app, ["train", "ppo", "classic/CartPole-v1", "--steps", "10", "--out", str(tmp_path / "x"), *args])
        assert out.exit_code == 2 and pattern in " ".join(out.output.split()) and "Traceback" not in out.output, out.output
    assert not (tmp_path / "x").exists()
    out = runner.invoke(app, ["describe", "ppo", "--scenario", "classic/CartPole-v1"], terminal_width=250)
    assert out.exit_code == 0, out.output
    assert "lin_0.001" in out.output and "Discount factor." in out.output and "a number in [0, 1]" in out.output
    out = runner.invoke(app, ["describe", "mujoco/Hopper-v5", "--scenario", "classic/CartPole-v1"])
    assert out.exit_code == 2 and "--scenario is for describing an agent" in out.output
    proc = run_inprocess("train", "ppo", "classic/CartPole-v1", "--set", "gamma=1.5", "--out", str(tmp_path / "y"), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0  # one line, as a user sees it


def test_experiment_specs_check_ranges_and_pairs(tmp_path):
    from testbed.experiment_spec import load_experiment

    spec = tmp_path / "s.yaml"
    for hparams, pattern in [("{gamma: 2}", "gamma must be"), ("{batch_size: 1024}", "larger than the rollout.*CartPole")]:
        spec.write_text(f"name: x\nagents: [{{name: ppo, hparams: {hparams}}}]\nscenarios: [classic/CartPole-v1]\n")
        with pytest.raises(UserError, match=pattern):
            load_experiment(spec)


@pytest.mark.parametrize("name", ["rarl", "adr", "gail", "airl", "adv_ppo"])
def test_a_method_built_around_ppo_shows_and_checks_ppos_tuned_entry(name):
    from agents import config

    ip = "mujoco/InvertedPendulum-v5"  # ppo.yaml: n_steps 128, batch_size 256, learning_rate 1e-3
    cfg = config.config(name, ip)
    assert (cfg.n_steps, cfg.batch_size, cfg.learning_rate) == (128, 256, 1e-3)
    assert config.config(name, ip, {"learning_rate": 5e-4}).learning_rate == 5e-4
    with pytest.raises(UserError, match="batch_size 256 is larger than the rollout"):
        agents.make(name, ip, n_envs=1)  # 128 x 1 < the tuned minibatch of 256


ARCH = sorted((agent, name) for agent in AGENTS for name in ("net_arch", "model_arch", "disc_net_arch")
              if name in (index.entry(agent)["hyperparameters"] or index.entry(agent)["defaults"]))
assert len(ARCH) >= 20, ARCH  # every learner with its own networks (23 fields when written)


@pytest.mark.parametrize("agent,name", ARCH)
def test_layer_widths_are_checked_item_by_item(agent, name):
    """A width of 0 built a zero-width network (pets and mbpo ended in ZeroDivisionError)."""
    for bad in ([0], [64, -1], [64, 2.5], [64, "a"]):
        with pytest.raises(UserError, match=rf"^{agent}: hyperparameter {name} must be a list, each item an integer >= 1, got "):
            index.check_overrides(agent, {name: bad})
    assert config.typed(agent, {name: [64.0, 32]}) == {name: [64, 32]}


@pytest.mark.parametrize("agent,name", [pytest.param(a, n, marks=[pytest.mark.slow] if a in ("a3c", "impala") else [])
                                        for a, n in ARCH])
def test_no_hidden_layers_trains_a_linear_network(agent, name):
    """``[]`` is accepted (a list whose every item is valid) and means no hidden layer: qmix, vdn, iql, maddpg,
    i2a, bc, dagger, gail and airl indexed ``widths[-1]`` and ended in IndexError."""
    from tests.test_agents_catalog import _tiny

    scenario, steps, hp = _tiny(agent)
    agents.make(agent, scenario, seed=0, **{**hp, name: []}).learn(min(steps, 300))
