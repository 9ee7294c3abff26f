"""A value the field catalog accepts trains (issue #16).

For every registered agent and every one of its hyperparameters, the distinct *kinds* of value
``agents/fields.yaml`` accepts are derived from the catalog itself: null where the field is
nullable, the list form where lists are allowed, a ``lin_`` schedule where schedules are, each
choice of a choice field (booleans: the other one), the strings it accepts (``auto``), a mapping
where mappings are, and the bounds of a small closed range. Each is given to ``agents.make`` with
the agent's tiny settings and a short ``learn`` follows. Either it trains, or ``agents.make``
refuses it with one ``UserError`` line; a traceback from inside the learner is a failure.

The default run (about 20 s) holds the kinds whose support lives in the learners (null, lists,
schedules, accepted strings, mappings) for the agents that train in about a second; everything
else (every choice and boolean, range bounds, the off-policy SB3, model-based, imitation,
adversarial and parallel agents: about 800 cases, 9 minutes with two workers) is marked ``slow``:
``pytest -m '' -n 2 tests/test_accepted_values.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import agents
import scenarios
from agents import config, index
from tests.test_agents_catalog import _tiny  # the tiny per-agent settings every catalog test uses

STEPS = 300  # at most this many environment steps per case ("a few hundred")
SAMPLE = {  # structured kinds the catalog describes in words (its doc): one example each
    "action_noise": [{"type": "normal", "std": 0.1}, {"type": "ornstein_uhlenbeck", "std": 0.1}],
    "normalize": [{"norm_obs": True, "norm_reward": False}],
}
FAST = {  # about a second per case: their learner-level kinds stay in the default run
    "dqn", "double_dqn", "dueling_dqn", "rainbow", "reinforce", "qmix", "vdn", "iql", "maddpg", "mappo", "ippo",
    "joint_q", "jal", "tabular_iql", "q_learning", "sarsa", "bc", "ppo", "a2c", "fast_ppo",
}
LEARNER_KINDS = {"null", "list", "schedule", "string", "mapping"}


def _strings(s: dict[str, Any]) -> list[str]:
    """The accepted string forms of a field with ``strings``, from its words (``auto or auto_<init>``)."""
    text = s.get("strings_text") or s["strings"].strip("^$").split("(")[0]
    out = [re.sub(r"<[^>]+>", "0.1", part.strip()) for part in text.split(" or ")]
    return [v for v in out if re.match(s["strings"], v)]


def _bounds(s: dict[str, Any], default: Any) -> list[Any]:
    """The closed bounds of a small range (integers from -1 to 2 as a minimum, numbers in [0, 1])."""
    kind, out = s.get("type"), []
    if kind == "integer" and "min" in s and -1 <= s["min"] <= 2:
        out.append(s["min"])
    if kind == "number" and "min" in s and "max" in s and s["max"] - s["min"] <= 1:
        out += [float(s["min"]), float(s["max"])]
    return [v for v in out if v not in s.get("exclude", ()) and v != default]


def kinds(agent: str, name: str, default: Any) -> list[tuple[str, Any]]:
    """(kind, value) for every distinct kind of value the catalog accepts for ``agent``'s ``name``,
    other than its default's."""
    s = config.spec(agent, name) or {}
    out: list[tuple[str, Any]] = []
    if s.get("nullable") and default is not None:
        out.append(("null", None))
    if s.get("lists"):
        n = default if isinstance(default, int) and not isinstance(default, bool) else 4
        out += [("list", [n, "step"]), ("list", [1, "episode"])]
    if s.get("schedule"):
        start = default if isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0 else 0.1
        out.append(("schedule", f"lin_{start}"))
    if s.get("strings"):
        out += [("string", v) for v in _strings(s) if v != default]
    if s.get("mappings") or (s.get("type") == "mapping" and name in SAMPLE):
        out += [("mapping", v) for v in SAMPLE.get(name, []) if v != default]
    if "choices" in s:
        out += [("choice", c) for c in s["choices"] if c != default]
    if s.get("type") == "boolean" and isinstance(default, bool):
        out.append(("choice", not default))
    out += [("bound", v) for v in _bounds(s, default)]
    return out


def _tiny_case(agent: str) -> tuple[Any, int, dict[str, Any]]:
    sc, steps, hp = _tiny(agent)
    names = index.entry(agent)["hyperparameters"]
    if "learning_starts" in names and "learning_starts" not in hp:
        hp = {**hp, "learning_starts": 50}  # so the short learn reaches the learner's update
    if "gradient_steps" in names and "gradient_steps" not in hp:
        hp = {**hp, "gradient_steps": 1}  # a tuned entry's 128 per round would make a case a minute long
    return sc, max(1, min(steps, STEPS)), hp


def _cases() -> list:
    out = []
    for agent in agents.list_names():
        info = index.entry(agent)
        for name in info["hyperparameters"] or sorted(info["defaults"]):
            for kind, value in kinds(agent, name, info["defaults"].get(name)):
                slow = agent not in FAST or kind not in LEARNER_KINDS or agent == "impala"
                marks = [pytest.mark.slow] if slow else []
                out.append(pytest.param(agent, name, value, marks=marks, id=f"{agent}-{name}-{kind}-{value!r}"))
    return out


@pytest.mark.parametrize("agent,name,value", _cases())
def test_an_accepted_value_trains_or_is_refused_by_make_in_one_line(agent, name, value):
    sc, steps, hp = _tiny_case(agent)
    try:
        ag = agents.make(agent, sc, seed=0, **{**hp, name: value})
    except scenarios.UserError as e:
        assert "\n" not in str(e) and name in str(e), f"refused, but not in one line naming {name}: {e}"
        return
    ag.learn(steps)


def test_the_kinds_come_from_the_catalog():
    assert ("null", None) in kinds("dqn", "max_grad_norm", 10.0)
    assert ("list", [4, "step"]) in kinds("dqn", "train_freq", 4)
    assert ("schedule", "lin_0.0003") in kinds("ppo", "learning_rate", 3e-4)
    assert [v for k, v in kinds("sac", "ent_coef", "auto") if k == "string"] == ["auto_0.1"]
    assert ("choice", "rmsprop") in kinds("a3c", "optimizer", "adam")
    assert ("bound", 0.0) in kinds("ppo", "gamma", 0.99)


@pytest.mark.parametrize("agent,scenario,values,match", [
    ("a3c", "classic/CartPole-v1", {"learning_rate": "lin_7e-4"}, "learning_rate must be a number > 0, got 'lin_7e-4'"),
    ("impala", "classic/CartPole-v1", {"max_grad_norm": None}, "max_grad_norm must be a number > 0, got None"),
    ("trpo", "classic/CartPole-v1", {"target_kl": None}, "target_kl must be a number > 0, got None"),
    ("mappo", "mpe/simple_spread-v3", {"clip_range": "lin_0.2"}, "clip_range must be a number > 0, got 'lin_0.2'"),
    ("qmix", "mpe/simple_spread-v3", {"train_freq": [1, "episode"]}, r"train_freq must be an integer >= 1 \(or a list \[N, step\]\)"),
    ("joint_q", "matrix/climbing-v0", {"train_freq": [1, "episode"], "n_envs": 2}, "train_freq .* needs one copy"),
    ("dqn", "classic/CartPole-v1", {"optimize_memory_usage": True}, "optimize_memory_usage true needs replay_buffer_kwargs"),
    ("ppo", "classic/CartPole-v1", {"backend": "batch"}, "backend batch does not run classic/CartPole-v1"),
    ("a2c", "classic/CartPole-v1", {"use_sde": True}, "use_sde true .* needs continuous actions"),
])
def test_a_form_the_learner_cannot_take_is_refused_by_make_in_one_line(agent, scenario, values, match):
    with pytest.raises(scenarios.UserError, match=rf"^{agent}: .*{match}") as e:
        agents.make(agent, scenario, seed=0, **values)
    assert "\n" not in str(e.value)


def test_a_lin_learning_rate_of_qmix_decays_to_zero_over_total_steps():
    ag = agents.make("qmix", "mpe/simple_spread-v3", seed=0, n_envs=2, learning_starts=50, learning_rate="lin_1e-3")
    ag.learn(200)
    assert ag._fast.adam.opt.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 198 / 200))  # the last round starts at step 198


def test_max_grad_norm_null_trains_saves_and_loads_with_sb3(tmp_path):
    ag = agents.make("ppo", "classic/CartPole-v1", seed=0, max_grad_norm=None, n_envs=2, n_steps=32, batch_size=32)
    ag.learn(64)
    loaded = agents.load(ag.save(tmp_path / "ppo"), "classic/CartPole-v1")
    assert loaded.hparams["max_grad_norm"] is None


def test_a_lin_learning_rate_of_qmix_continues_across_learn_calls():
    import torch

    hp = dict(seed=0, n_envs=2, learning_starts=50, learning_rate="lin_1e-3", total_steps=200)
    whole, parts = agents.make("qmix", "mpe/simple_spread-v3", **hp), agents.make("qmix", "mpe/simple_spread-v3", **hp)
    whole.learn(200)
    parts.learn(100)
    parts.learn(100)
    for a, b in zip(whole.q.parameters(), parts.q.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
