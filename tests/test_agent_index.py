"""The agent index (``agents/index.json``) is what the registry says, and the command line's
listing and refusals read it without importing torch, SB3 or MuJoCo."""

import json
import subprocess
import sys

import pytest

import agents
from agents import index
from scenarios import UserError

HEAVY = ("torch", "stable_baselines3", "mujoco", "pettingzoo")


def test_the_shipped_index_is_the_registrys():
    built = json.loads(json.dumps(index.build()))
    assert index.read() == built, "agents/index.json is stale: run 'python -m agents.index' and commit it"


def test_every_registered_agent_is_in_the_index():
    assert index.names() == agents.list_names()


@pytest.mark.parametrize("name", ["ppo", "dqn", "mappo", "bc", "mppi", "rarl"])
def test_index_checks_refuse_what_agents_make_refuses(name):
    defaults = agents.agent_class(name).default_hyperparameters()
    key = next(k for k, v in sorted(defaults.items()) if isinstance(v, (int, float)) and not isinstance(v, bool))
    for bad in ({key: "abc"}, {"no_such_key": 1}):
        with pytest.raises(UserError) as via_index:
            index.check_overrides(name, bad)
        with pytest.raises(UserError) as via_make:
            agents.make(name, _scenario_for(name), seed=0, **bad)
        assert str(via_index.value) == str(via_make.value)
    assert index.check_overrides(name, {key: defaults[key]}) == {key: defaults[key]}


def _scenario_for(name):
    caps = agents.agent_class(name).capabilities
    if caps.multi_agent != "single":
        return "mpe/simple_spread-v3"
    if caps.needs_state == "physics" or not caps.discrete_actions:
        return "mujoco/InvertedPendulum-v5"
    return "classic/CartPole-v1"


def _cli(*args):
    code = ("import sys; from typer.testing import CliRunner; from testbed.cli import app; "
            f"r = CliRunner().invoke(app, {list(args)!r}); "
            f"print(r.exit_code, sorted(m for m in {HEAVY!r} if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("args,code", [
    (["list"], 0),
    (["list", "agents"], 0),
    (["train", "ppx", "classic/CartPole-v1"], 2),
    (["train", "ppo", "classic/CartPol-v1"], 2),
    (["train", "ppo", "classic/CartPole-v1", "--set", "n_steps=abc"], 2),
    (["train", "ppo", "classic/CartPole-v1", "--set", "n_step=5"], 2),
    (["describe", "classic/CartPol-v1"], 2),
    (["evaluate", "no/such/folder", "classic/CartPole-v1"], 2),
    (["evaluate", "random", "classic/CartPole-v1", "--attack", "cw"], 2),
    (["demos", "record", "ppo", "classic/CartPole-v1"], 2),
    (["tune", "ppx", "classic/CartPole-v1"], 2),
    (["tune", "ppo", "classic/CartPole-v1", "--set", "gamma=high"], 2),
    (["report", "no_such.db"], 2),
    (["results", "no_such.db"], 2),
    (["run", "no_such.yaml"], 2),
])
def test_listing_and_refusals_load_nothing_heavy(args, code):
    assert _cli(*args) == f"{code} []"


def test_import_scenarios_registers_gymnasium_ids_when_gymnasium_comes():
    code = ("import sys, scenarios; before = 'gymnasium' in sys.modules; import gymnasium as gym; "
            "print(before, gym.make('mujoco/Hopper-hard-v0').spec.max_episode_steps)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "1000"]
