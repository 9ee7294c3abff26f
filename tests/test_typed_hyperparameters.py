"""One typed merge: every learner reads hyperparameters that ``hyperparams.resolve`` merged (its
defaults, the tuned YAML entry, the overrides) and put in the types ``agents/fields.yaml``
declares, so no learner casts them (issue #16: no ``float(h[...])`` left)."""

import re
from pathlib import Path

import pytest

import agents
from agents import config, hyperparams
from scenarios import UserError
from tests.test_agents_catalog import _tiny  # the tiny per-agent settings every catalog test uses

ROOT = Path(__file__).parents[1]
PACKAGES = ("agents", "sim2real", "scenarios", "testbed")
CAST = re.compile(r"\b(float|int|bool)\((self\.)?(h|hp|hparams)\[")


def test_no_learner_casts_its_hyperparameters():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if CAST.search(line)]
    assert not found, "hyperparameters are typed by hyperparams.resolve; read them without a cast:\n" + "\n".join(found)


def _declared(s: dict, value) -> bool:
    """Whether ``value`` has the type field ``s`` declares (exactly: an int is no float, a bool no int)."""
    if value is None:
        return bool(s.get("nullable"))
    if isinstance(value, str) and (s.get("schedule") or s.get("strings")):
        return True
    if isinstance(value, (list, tuple)) and s.get("lists"):
        return True
    if isinstance(value, dict) and s.get("mappings"):
        return True
    kind = s.get("type", "any")
    exact = {"integer": int, "number": float, "boolean": bool, "string": str, "mapping": dict}
    if kind in exact:
        return type(value) is exact[kind]
    if kind == "list":
        return isinstance(value, (list, tuple))
    return True


@pytest.mark.parametrize("name", agents.list_names())
def test_a_built_agent_holds_its_hyperparameters_in_their_declared_types(name):
    if name == "random":
        sc, hp = "classic/CartPole-v1", {}
    else:
        sc, _, hp = _tiny(name)
    h = getattr(agents.make(name, sc, seed=0, **hp), "hparams", {}) or {}
    wrong = {k: v for k, v in h.items() if (s := config.spec(name, k)) is not None and not _declared(s, v)}
    assert not wrong, f"{name}: values outside their declared types: {wrong}"


def test_resolve_types_defaults_tuned_entries_and_overrides(monkeypatch):
    monkeypatch.setattr(hyperparams, "_defaults_file", lambda agent: {"default": {"gamma": 1, "n_steps": 64.0}})
    h = hyperparams.resolve("mappo", "mpe/simple_spread-v3", {"epochs": 4.0, "vf_coef": 1}, {"epochs", "vf_coef"},
                            base={"learning_rate": 1, "minibatches": 2.0, "max_grad_norm": None, "net_arch": [64, 64]})
    assert h == {"learning_rate": 1.0, "minibatches": 2, "max_grad_norm": None, "net_arch": [64, 64], "gamma": 1.0,
                 "n_steps": 64, "epochs": 4, "vf_coef": 1.0}
    assert [type(h[k]) for k in ("learning_rate", "minibatches", "gamma", "n_steps", "epochs", "vf_coef")] == [
        float, int, float, int, int, float]


def test_resolve_keeps_schedules_lists_and_auto_as_they_are():
    h = hyperparams.resolve("ppo", "none/none", {"learning_rate": "lin_3e-4", "clip_range": 0.2}, {"learning_rate", "clip_range"})
    assert h["learning_rate"] == "lin_3e-4" and type(h["clip_range"]) is float
    h = hyperparams.resolve("sac", "none/none", {"train_freq": [1, "episode"], "ent_coef": "auto_0.1"},
                            {"train_freq", "ent_coef"})
    assert h["train_freq"] == [1, "episode"] and h["ent_coef"] == "auto_0.1"


def test_a_value_outside_its_type_is_refused_in_one_line_wherever_it_comes_from():
    with pytest.raises(UserError, match=r"^mappo: hyperparameter n_steps must be an integer >= 1, got 2.5$"):
        hyperparams.resolve("mappo", "none/none", {}, set(), base={"n_steps": 2.5})


def test_an_agent_built_without_make_is_typed_too():
    ag = agents.agent_class("dqn")(_tiny("dqn")[0], seed=0, gamma=1, batch_size=32.0)
    assert type(ag.hparams["gamma"]) is float and type(ag.hparams["batch_size"]) is int
