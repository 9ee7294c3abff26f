"""Tuned defaults as data (``agents/defaults/<agent>.yaml``) and validated overrides.

Each file has a ``default:`` mapping and optional per-scenario mappings keyed by
scenario id, as rl-baselines3-zoo's hyperparameter files do. Overrides from
code or ``--set key=value`` on the CLI are checked against the valid names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scenarios import UserError
from scenarios.errors import suggest

DEFAULTS = Path(__file__).parent / "defaults"


def tuned_defaults(agent: str, scenario_id: str) -> dict[str, Any]:
    """The agent's defaults merged with its entry for ``scenario_id`` (if any)."""
    file = DEFAULTS / f"{agent}.yaml"
    if not file.is_file():
        return {}
    data = yaml.safe_load(file.read_text()) or {}
    merged = dict(data.get("default", {}))
    merged.update(data.get(scenario_id, {}))
    return merged


def resolve(agent: str, scenario_id: str, overrides: dict[str, Any], valid: set[str]) -> dict[str, Any]:
    """Merge tuned defaults with overrides, refusing unknown names with the valid ones listed."""
    for key in overrides:
        if key not in valid:
            raise UserError(
                f"unknown hyperparameter '{key}' for {agent}{suggest(key, valid)} (valid: {', '.join(sorted(valid))})"
            )
    return {**tuned_defaults(agent, scenario_id), **overrides}


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Parse CLI ``key=value`` strings; values are read as YAML (numbers, lists, dicts)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects key=value, got '{item}'")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"--set {key}: cannot parse value '{value}'") from None
    return out
