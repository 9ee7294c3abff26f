"""Typed, validated agent configs: each hyperparameter's type, valid range and meaning.

``agents/fields.yaml`` (data, read with libyaml and without torch) describes every
hyperparameter of every registered agent; ``tests/test_agent_config.py`` fails when an
agent has one without an entry. From it:

- ``check(agent, values)`` refuses a value outside its type or range in one line naming
  the field, the value and what is valid (``agents.make``, ``--set``, experiment specs and
  the tuned YAML defaults all pass through it);
- ``typed(agent, values)`` checks values and returns them in their declared types (ints for
  integer fields, floats for number fields): ``hyperparams.resolve`` gives every learner its
  merged hyperparameters through it, so a learner reads each value as it is, without a cast;
- ``check_pairs(agent, config, learning)`` refuses an inconsistent pair in the merged
  config (a minibatch larger than the rollout, a final epsilon above the initial one...);
- ``config_model(agent)`` is the agent's pydantic model (typed, documented fields with
  their defaults), and ``config(agent, scenario_id, overrides)`` the validated config for
  a scenario: the agent's defaults, then its tuned YAML entry, then the overrides;
- ``config_of(agent)`` is a built agent's config (its resolved hyperparameters, validated);
- ``describe(agent, scenario_id)`` gives the rows of ``testbed describe AGENT``.

>>> check("ppo", {"gamma": 0.99, "learning_rate": "lin_3e-4"})
>>> check("ppo", {"gamma": 1.5})
Traceback (most recent call last):
...
scenarios.errors.UserError: ppo: hyperparameter gamma must be a number in [0, 1], got 1.5
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from scenarios.errors import UserError

FIELDS = Path(__file__).with_name("fields.yaml")
_SCHEDULE = re.compile(r"^lin_([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$")
_TYPES: dict[str, Any] = {"integer": int, "number": float, "boolean": bool, "string": str, "list": list,
                          "mapping": dict, "any": Any}


@functools.cache
def catalog() -> dict[str, Any]:
    """The parsed ``fields.yaml`` (once per process)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(FIELDS.read_text(), Loader=loader)


def spec(agent: str, name: str) -> dict[str, Any] | None:
    """The catalog entry of ``name`` for ``agent`` (its own entry where it has one)."""
    data = catalog()
    return (data.get("by_agent", {}).get(agent, {}) or {}).get(name) or data["fields"].get(name)


def _bounds(s: dict[str, Any]) -> str:
    lo = f"[{s['min']}" if "min" in s else (f"({s['gt']}" if "gt" in s else None)
    hi = f"{s['max']}]" if "max" in s else (f"{s['lt']})" if "lt" in s else None)
    if lo and hi:
        return f" in {lo}, {hi}"
    if lo:
        return f" >= {s['min']}" if "min" in s else f" > {s['gt']}"
    if hi:
        return f" <= {s['max']}" if "max" in s else f" < {s['lt']}"
    return ""


def valid_text(s: dict[str, Any]) -> str:
    """What ``s`` accepts, in words: ``a number in [0, 1]``, ``one of auto, batch, gymnasium``...

    >>> valid_text({"type": "integer", "min": 1})
    'an integer >= 1'
    """
    kind = s.get("type", "any")
    if "choices" in s:
        text = "one of " + ", ".join(map(str, s["choices"]))
    else:
        text = {"integer": "an integer", "number": "a number", "boolean": "a boolean (true/false)", "string": "a string",
                "list": "a list", "mapping": "a mapping", "any": "any value"}[kind] + _bounds(s)
        if s.get("exclude"):
            text += " other than " + ", ".join(map(str, s["exclude"]))
        if kind == "list" and "items" in s:
            text += ", each item " + valid_text(s["items"])
    extras = []
    if s.get("schedule"):
        extras.append("lin_<start> for a linear schedule")
    if s.get("strings"):
        extras.append(s.get("strings_text") or s["strings"].strip("^$").split("(")[0])
    if s.get("lists"):
        extras.append(f"a list [N, {'|'.join(_units(s))}]")
    if s.get("mappings"):
        extras.append("a mapping")
    if s.get("nullable"):
        extras.append("null")
    return text + (f" (or {', '.join(extras)})" if extras else "")


def _units(s: dict[str, Any]) -> list[str]:
    """The units a list form ``[N, unit]`` may name: ``lists: true`` is SB3's step and episode,
    ``lists: [step]`` narrows it (a learner that trains on step counts only)."""
    return list(s["lists"]) if isinstance(s.get("lists"), list) else ["step", "episode"]


def _in_range(s: dict[str, Any], x: float) -> bool:
    return not (("min" in s and x < s["min"]) or ("max" in s and x > s["max"]) or ("gt" in s and x <= s["gt"])
                or ("lt" in s and x >= s["lt"]) or x in s.get("exclude", ()))


def _number_text(text: str) -> float | None:
    """``text`` as a float, or None where it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def problem(s: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is outside what ``s`` accepts."""
    if value is None:
        return not s.get("nullable", False)
    kind = s.get("type", "any")
    if isinstance(value, str):
        if s.get("schedule") and (m := _SCHEDULE.match(value)):
            start = float(m.group(1))
            return not (math.isfinite(start) and _in_range(s, start))
        if s.get("strings") and re.match(s["strings"], value):
            _, sep, tail = value.rpartition("_")  # auto_<init>: the init is held to the field's range too
            x = _number_text(tail) if sep else None
            return x is not None and not _in_range(s, x)
        if kind == "string":
            return "choices" in s and value not in s["choices"]
        return kind != "any"
    if isinstance(value, (list, tuple)) and s.get("lists"):
        return not (len(value) == 2 and isinstance(value[0], int) and not isinstance(value[0], bool)
                    and value[0] >= 1 and value[1] in _units(s))
    if isinstance(value, dict) and s.get("mappings"):
        return False
    if kind == "boolean":
        return not isinstance(value, bool)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        if not math.isfinite(value) or kind == "integer" and not float(value).is_integer():
            return True  # NaN passes every comparison of a range; infinities are never a setting (null is)
        return not _in_range(s, float(value))
    if kind == "list":
        return not isinstance(value, (list, tuple)) or ("items" in s and any(problem(s["items"], x) for x in value))
    if kind == "mapping":
        return not isinstance(value, dict)
    if "choices" in s:
        return value not in s["choices"]
    return kind == "string"


def check(agent: str, values: dict[str, Any]) -> None:
    """Refuse a value outside its field's type or range, in one line (names without an entry pass)."""
    for name, value in values.items():
        s = spec(agent, name)
        if s is not None and problem(s, value):
            raise UserError(f"{agent}: hyperparameter {name} must be {valid_text(s)}, got {value!r}")


def typed(agent: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` in their declared types, after ``check``: an integral number where an integer is
    declared becomes an int, an integer where a number is declared a float. Schedules (``lin_<x>``),
    accepted strings (``auto``), lists (``[4, episode]``), mappings, booleans, None and names
    without an entry stay as they are. A value outside its field is one UserError line.

    >>> typed("ppo", {"gamma": 1, "n_steps": 256.0, "learning_rate": "lin_3e-4", "target_kl": None})
    {'gamma': 1.0, 'n_steps': 256, 'learning_rate': 'lin_3e-4', 'target_kl': None}
    """
    check(agent, values)
    out = dict(values)
    for name, value in values.items():
        s = spec(agent, name) or {}
        kind = s.get("type")
        if kind == "list" and (s.get("items") or {}).get("type") == "integer" and isinstance(value, (list, tuple)):
            out[name] = [int(x) for x in value]  # widths: ``check`` refuses 2.5
        elif kind == "integer" and isinstance(value, float):
            out[name] = int(value)  # integral: ``check`` refuses 2.5
        elif kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)  # a Python float, also from numpy's float64
    return out


def _number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str) and (m := _SCHEDULE.match(x)):
        return float(m.group(1))
    return None


def check_pairs(agent: str, config: dict[str, Any], learning: str | None = None) -> None:
    """Refuse an inconsistent pair in a merged config, in one line naming both fields.

    >>> check_pairs("ppo", {"batch_size": 4096, "n_steps": 256, "n_envs": 8}, "on-policy")
    Traceback (most recent call last):
    ...
    scenarios.errors.UserError: ppo: batch_size 4096 is larger than the rollout, n_steps x n_envs = 256 x 8 = 2048 (valid: batch_size <= 2048)
    """
    n = {k: _number(v) for k, v in config.items()}

    def has(*keys: str) -> bool:
        return all(n.get(k) is not None for k in keys)

    if learning == "on-policy" and has("n_steps", "n_envs"):
        rollout = n["n_steps"] * n["n_envs"]  # type: ignore[operator]
        if rollout < 2:
            raise UserError(f"{agent}: the rollout n_steps x n_envs = {config['n_steps']} x {config['n_envs']} must hold "
                            "at least 2 steps (valid: n_steps x n_envs >= 2)")
        if has("batch_size") and n["batch_size"] > rollout:  # type: ignore[operator]
            raise UserError(f"{agent}: batch_size {config['batch_size']} is larger than the rollout, n_steps x n_envs = "
                            f"{config['n_steps']} x {config['n_envs']} = {rollout:g} (valid: batch_size <= {rollout:g})")
        if (has("sub_sampling_factor") and n["sub_sampling_factor"] >= rollout  # type: ignore[operator]
                and config.get("normalize_advantage", True) is not False):
            # TRPO's policy step takes every k-th step of the rollout: one alone has no advantage std (NaN policy)
            raise UserError(f"{agent}: sub_sampling_factor {config['sub_sampling_factor']} keeps one step of the rollout, "
                            f"n_steps x n_envs = {config['n_steps']} x {config['n_envs']} = {rollout:g}, whose advantages "
                            f"cannot be normalized (valid: sub_sampling_factor < {rollout:g}, or normalize_advantage false)")
        if has("minibatches") and n["minibatches"] > rollout:  # type: ignore[operator]
            raise UserError(f"{agent}: minibatches {config['minibatches']} exceeds the rollout's {rollout:g} steps, n_steps x "
                            f"n_envs = {config['n_steps']} x {config['n_envs']} (valid: minibatches <= {rollout:g})")
    freq = config.get("train_freq")
    if isinstance(freq, (list, tuple)) and len(freq) == 2 and freq[1] == "episode" and has("n_envs") and n["n_envs"] > 1:
        raise UserError(f"{agent}: train_freq {list(freq)} trains after whole episodes, which needs one copy, but n_envs "
                        f"is {config['n_envs']} (valid: n_envs 1, or train_freq N or [N, step])")
    kwargs = config.get("replay_buffer_kwargs") or {}
    if config.get("optimize_memory_usage") is True and kwargs.get("handle_timeout_termination", True):
        raise UserError(f"{agent}: optimize_memory_usage true needs replay_buffer_kwargs {{handle_timeout_termination: "
                        "false}, which SB3 requires for it (and which bootstraps no time-limit truncation) "
                        "(valid: optimize_memory_usage false)")
    pairs = [("batch_size", "buffer_size", "a batch larger than the replay buffer"),
             ("eps_end", "eps_start", "epsilon would grow"),
             ("exploration_final_eps", "exploration_initial_eps", "epsilon would grow"),
             ("temperature_end", "temperature", "the temperature would grow"),
             ("t_low", "t_high", "the narrowing threshold is above the widening one")]
    for small, large, why in pairs:
        if has(small, large) and n[small] > n[large]:  # type: ignore[operator]
            raise UserError(f"{agent}: {small} {config[small]} is above {large} {config[large]}: {why} "
                            f"(valid: {small} <= {large})")
    if has("particles", "ensemble_size") and n["ensemble_size"] >= 1 and n["particles"] % n["ensemble_size"]:  # type: ignore[operator]
        raise UserError(f"{agent}: particles {config['particles']} must be a multiple of ensemble_size "
                        f"{config['ensemble_size']} (each member carries the same number of particles)")
    if config.get("distributional") is True and has("v_min", "v_max"):
        check_support(agent, n["v_min"], n["v_max"])  # type: ignore[arg-type]
    elites = config.get("planner", agent) != "mppi"  # MPPI (the mppi agent, pets' planner: mppi) keeps no elite
    if elites and has("elite_fraction", "samples") and n["elite_fraction"] * n["samples"] < 1:  # type: ignore[operator]
        raise UserError(f"{agent}: elite_fraction {config['elite_fraction']} x samples {config['samples']} keeps no "
                        "elite (valid: elite_fraction x samples >= 1)")
    limits, initial = config.get("limits"), config.get("initial")
    if isinstance(limits, (list, tuple)) and isinstance(initial, (list, tuple)) and len(limits) == 2 and len(initial) == 2:
        if not (limits[0] <= initial[0] <= initial[1] <= limits[1]):
            raise UserError(f"{agent}: initial range {list(initial)} is not inside limits {list(limits)} "
                            "(valid: limits[0] <= initial[0] <= initial[1] <= limits[1])")


FLOAT32_MAX = 3.4028234663852886e38


def check_support(agent: str, v_min: float, v_max: float) -> None:
    """Refuse, in one line, a distributional support ``[v_min, v_max]`` that is empty or that float32 (the
    networks' type) cannot hold: beyond +-3.4e38 ``torch.linspace`` raised, and ends that round to one float32
    value gave a zero atom spacing (NaN targets).

    >>> check_support("rainbow", -10.0, 10.0)
    >>> check_support("rainbow", 0.0, 1e-50)
    Traceback (most recent call last):
    ...
    scenarios.errors.UserError: rainbow: v_min 0.0 and v_max 1e-50 are one value in float32 (valid: v_min < v_max, both within +-3.4e38 and distinct in float32)
    """
    import numpy as np

    valid = "(valid: v_min < v_max, both within +-3.4e38 and distinct in float32)"
    if not v_min < v_max:
        raise UserError(f"{agent}: v_min {v_min} must be below v_max {v_max} {valid}")
    if max(abs(v_min), abs(v_max), v_max - v_min) > FLOAT32_MAX:
        raise UserError(f"{agent}: the support v_min {v_min} .. v_max {v_max} overflows float32 {valid}")
    if not np.float32(v_min) < np.float32(v_max):
        raise UserError(f"{agent}: v_min {v_min} and v_max {v_max} are one value in float32 {valid}")


def _annotation(s: dict[str, Any] | None) -> Any:
    if s is None:
        return Any
    kind = _TYPES[s.get("type", "any")]
    if kind is Any or s.get("schedule") or s.get("strings") or s.get("lists") or s.get("mappings"):
        return Any  # a number or a schedule string, an integer or a list...: checked by ``check``
    if kind is float:
        kind = float | int
    return kind | None if s.get("nullable") else kind


@functools.cache
def config_model(agent: str) -> type[BaseModel]:
    """The agent's typed config: one documented field per hyperparameter, defaulting to the agent's
    own defaults, validated by ``check`` (unknown names are refused).

    >>> model = config_model("ppo")
    >>> model.model_fields["gamma"].description
    'Discount factor.'
    """
    from agents import index

    info = index.entry(agent)
    names = info["hyperparameters"] or list(info["defaults"])
    fields: dict[str, Any] = {}
    for name in names:
        s = spec(agent, name)
        fields[name] = (_annotation(s), Field(default=info["defaults"].get(name), description=(s or {}).get("doc")))

    def validate(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(names))
            if unknown:
                raise UserError(f"unknown hyperparameter '{unknown[0]}' for {agent} (valid: {', '.join(sorted(names))})")
            check(agent, data)
        return data

    return create_model(f"{agent.title().replace('_', '')}Config", __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
                        __validators__={"_check": model_validator(mode="before")(classmethod(validate))}, **fields)


def config(agent: str, scenario_id: str, overrides: dict[str, Any] | None = None) -> BaseModel:
    """The validated config of ``agent`` for ``scenario_id``: defaults, tuned YAML entry, overrides."""
    from agents import hyperparams, index

    info = index.entry(agent)
    values = {**hyperparams.tuned_defaults(agent, scenario_id), **(overrides or {})}
    model = config_model(agent).model_validate(values)
    check_pairs(agent, model.model_dump(), info["capabilities"].get("learning"))
    return model


def config_of(agent: Any) -> BaseModel:
    """The typed config of a built agent: its resolved hyperparameters, validated."""
    model = config_model(agent.name)
    values = getattr(agent, "hparams", {}) or {}
    return model.model_validate({k: v for k, v in values.items() if k in model.model_fields})


def describe(agent: str, scenario_id: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """Rows (field, type, default for the scenario, valid values, meaning) of every hyperparameter."""
    from agents import hyperparams, index

    info = index.entry(agent)
    tuned = hyperparams.tuned_defaults(agent, scenario_id) if scenario_id else {}
    rows = []
    for name in info["hyperparameters"] or sorted(info["defaults"]):
        s = spec(agent, name) or {}
        default = tuned.get(name, info["defaults"].get(name))
        rows.append((name, s.get("type", "any"), repr(default), valid_text(s) if s else "", s.get("doc", "")))
    return rows
