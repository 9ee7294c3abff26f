"""What every registered agent is, readable without importing one: a generated index.

``agents/index.json`` holds each agent's one-line summary, capabilities, valid
hyperparameter names and defaults. It is data written from the registry by
``python -m agents.index`` (the registry imports torch and SB3, 1-2 s); the
command line reads it to list agents and to refuse an unknown name or a bad
``--set`` value before anything heavy is imported, so those answers take a
fraction of a second. ``tests/test_agent_index.py`` rebuilds it from the registry
and fails when the file is stale, so the index can never disagree with the code.

>>> from agents import index
>>> index.entry("ppo")["capabilities"]["learning"]
'on-policy'
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from scenarios.errors import UserError, suggest

INDEX = Path(__file__).with_name("index.json")


def _as_data(value: Any) -> Any:
    """A default as JSON data: tuples become lists; a value JSON cannot hold (a class, a
    callable) becomes ``None``, which the value check treats as 'no type to check'."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_as_data(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _as_data(v) for k, v in value.items()}
    return None


def build() -> dict[str, dict[str, Any]]:
    """The index computed from the registry (imports every agent class)."""
    from agents.registry import agent_class, list_names

    out: dict[str, dict[str, Any]] = {}
    for name in list_names():
        cls = agent_class(name)
        valid = sorted(cls.valid_hyperparameters()) if hasattr(cls, "valid_hyperparameters") else []
        defaults = cls.default_hyperparameters() if hasattr(cls, "default_hyperparameters") else {}
        out[name] = {
            "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            "capabilities": dataclasses.asdict(cls.capabilities),
            "hyperparameters": valid,
            "defaults": {k: _as_data(v) for k, v in sorted(defaults.items())},
        }
        if getattr(cls, "composes", None):  # built around another agent: its tuned entries apply too
            out[name]["composes"] = cls.composes
        if getattr(cls, "defaults_from", None):  # the same hyperparameters as another agent: its file is this one's
            out[name]["defaults_from"] = cls.defaults_from
    return out


def write(path: Path = INDEX) -> Path:
    """Write the index built from the registry to ``path``."""
    path.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
    return path


@functools.cache
def read(path: Path = INDEX) -> dict[str, dict[str, Any]]:
    """The shipped index (parsed once per process)."""
    return json.loads(path.read_text())


def names() -> list[str]:
    """Every agent name in the index, sorted."""
    return sorted(read())


def entry(name: str) -> dict[str, Any]:
    """The index entry of ``name``; an unknown name is the registry's one-line error."""
    known = read()
    if name not in known:
        raise UserError(f"unknown agent '{name}'{suggest(name, known)} (valid: {', '.join(sorted(known))})")
    return known[name]


def check_overrides(name: str, overrides: dict[str, Any], scenario_id: str | None = None) -> dict[str, Any]:
    """Refuse an unknown hyperparameter name, a value of the wrong type or out of its range for
    agent ``name`` (and, given the scenario, an inconsistent pair in the merged config), with the
    messages ``agents.make`` gives, and return the values coerced as it would."""
    from agents import config, hyperparams

    info = entry(name)
    if info["hyperparameters"]:  # an agent without a list takes what its constructor takes
        hyperparams.check_names(name, overrides, set(info["hyperparameters"]))
    values = hyperparams.check_values(name, overrides, info["defaults"])
    if scenario_id is not None:
        merged = {**info["defaults"], **hyperparams.tuned_defaults(name, scenario_id), **values}
        config.check_pairs(name, merged, info["capabilities"].get("learning"))
    return values


if __name__ == "__main__":
    print(f"wrote {write()}")
