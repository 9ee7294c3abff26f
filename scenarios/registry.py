"""The registry of versioned scenario ids, read from the shipped catalog.

Every id lives in ``scenarios/catalog/*.yaml`` (a ``scenarios:`` list of
specs per family), so the catalog is data and ``list_ids()`` is what ships.
``register()`` adds user specs at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios.errors import UserError, suggest
from scenarios.gymnasium_ids import register_spec
from scenarios.scenario import Scenario
from scenarios.spec import ScenarioSpec, load_spec_file, load_yaml, parse_spec

CATALOG = Path(__file__).parent / "catalog"
_SPECS: dict[str, ScenarioSpec] = {}


def _load_catalog() -> dict[str, ScenarioSpec]:
    if not _SPECS:
        for path in sorted(CATALOG.glob("*.yaml")):
            data = load_yaml(path)
            for i, entry in enumerate(data.get("scenarios", [])):
                spec = parse_spec(entry, where=f"{path.name}[{i}]")
                if spec.id in _SPECS:
                    raise UserError(f"duplicate scenario id {spec.id} in {path.name}")
                _SPECS[spec.id] = spec
    return _SPECS


def register(spec: ScenarioSpec | dict[str, Any], overwrite: bool = False) -> ScenarioSpec:
    """Add a scenario spec to the registry under its id."""
    spec = parse_spec(spec)
    specs = _load_catalog()
    if spec.id in specs and not overwrite:
        raise UserError(f"scenario id {spec.id} is already registered")
    specs[spec.id] = spec
    register_spec(spec)
    return spec


def register_gymnasium_ids() -> None:
    """Register every single-agent scenario as a Gymnasium id (done on ``import scenarios``)."""
    for spec in _load_catalog().values():
        register_spec(spec)


def list_ids(family: str | None = None) -> list[str]:
    """Every registered scenario id, sorted (optionally only one family, e.g. ``'mpe'``)."""
    ids = sorted(_load_catalog())
    return [i for i in ids if family is None or i.split("/", 1)[0] == family]


def get_spec(scenario_id: str) -> ScenarioSpec:
    """The registered spec for ``scenario_id``; an unknown id suggests the closest ones."""
    specs = _load_catalog()
    if scenario_id not in specs:
        raise UserError(f"unknown scenario '{scenario_id}'{suggest(scenario_id, specs)} ('testbed list scenarios' shows all)")
    return specs[scenario_id]


def resolve_spec(id_or_spec: str | Path | dict | ScenarioSpec, **overrides: Any) -> ScenarioSpec:
    """Turn an id, a YAML path, a dict or a spec into a validated spec with overrides applied.

    Override keys that name a spec field (``time_limit``, ``layers``...) replace it;
    any other key is a source keyword argument.
    """
    if isinstance(id_or_spec, ScenarioSpec):
        spec = id_or_spec
    elif isinstance(id_or_spec, dict):
        spec = parse_spec(id_or_spec)
    else:
        text = str(id_or_spec)
        if text in _load_catalog():
            spec = _load_catalog()[text]
        elif text.endswith((".yaml", ".yml")) or Path(text).is_file():
            spec = load_spec_file(text)
        else:
            spec = get_spec(text)
    if not overrides:
        return spec
    data = spec.model_dump()
    for key, value in overrides.items():
        if key in ScenarioSpec.model_fields:
            data[key] = value
        else:
            data["kwargs"][key] = value
    return parse_spec(data, where=f"{spec.id} with overrides")


def make(id_or_spec: str | Path | dict | ScenarioSpec, seed: int | None = None, **overrides: Any) -> Scenario:
    """Build a Scenario from a registered id, a YAML file, a dict or a ScenarioSpec.

    >>> import scenarios
    >>> sc = scenarios.make("mpe/simple_spread-v3", seed=0, N=4)
    >>> sc.num_agents
    4
    """
    return Scenario(resolve_spec(id_or_spec, **overrides), seed=seed)
