"""The registry of versioned scenario ids, read from the shipped catalog.

Every id lives in ``scenarios/catalog/*.yaml`` (a ``scenarios:`` list of
specs per family), so the catalog is data and ``list_ids()`` is what ships.
``register()`` adds user specs at run time. Nothing here imports a source or
MuJoCo: ids list and validate without them (``make`` imports the faces).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenarios import yaml_loader
from scenarios.errors import UserError, suggest

if TYPE_CHECKING:
    from scenarios.scenario import Scenario
    from scenarios.spec import ScenarioSpec

CATALOG = Path(__file__).parent / "catalog"
_ENTRIES: dict[str, tuple[dict[str, Any], str]] = {}
"""The catalog as read: id -> (YAML entry, where it is), validated into a spec on first use."""
_SPECS: dict[str, ScenarioSpec] = {}
"""Validated specs: catalog entries already asked for, and every ``register``-ed spec."""


def _load_catalog() -> dict[str, tuple[dict[str, Any], str]]:
    if not _ENTRIES:
        for path in sorted(CATALOG.glob("*.yaml")):
            data = yaml_loader.load_file(path)
            for i, entry in enumerate(data.get("scenarios", [])):
                where = f"{path.name}[{i}]"
                sid = entry.get("id") if isinstance(entry, dict) else None
                if not isinstance(sid, str):
                    raise UserError(f"{where}: a catalog entry needs an 'id'")
                if sid in _ENTRIES:
                    raise UserError(f"duplicate scenario id {sid} in {path.name}")
                _ENTRIES[sid] = (entry, where)
    return _ENTRIES


def _known() -> set[str]:
    return {*_load_catalog(), *_SPECS}


def register(spec: ScenarioSpec | dict[str, Any], overwrite: bool = False) -> ScenarioSpec:
    """Add a scenario spec to the registry under its id."""
    from scenarios.spec import parse_spec

    spec = parse_spec(spec)
    if spec.id in _known() and not overwrite:
        raise UserError(f"scenario id {spec.id} is already registered")
    _SPECS[spec.id] = spec
    from scenarios.gymnasium_ids import register_spec

    register_spec(spec)
    return spec


def register_gymnasium_ids() -> None:
    """Register every single-agent scenario as a Gymnasium id (``import scenarios`` has this done
    when Gymnasium is imported, or at once if it already is)."""
    from scenarios.gymnasium_ids import register_id

    for sid, (entry, _where) in _load_catalog().items():
        register_id(sid, str(entry.get("source", "")), entry.get("time_limit"))


def list_ids(family: str | None = None) -> list[str]:
    """Every registered scenario id, sorted (optionally only one family, e.g. ``'mpe'``)."""
    ids = sorted(_known())
    return [i for i in ids if family is None or i.split("/", 1)[0] == family]


def get_spec(scenario_id: str) -> ScenarioSpec:
    """The registered spec for ``scenario_id``; an unknown id suggests the closest ones."""
    if scenario_id in _SPECS:
        return _SPECS[scenario_id]
    catalog = _load_catalog()
    if scenario_id not in catalog:
        raise UserError(f"unknown scenario '{scenario_id}'{suggest(scenario_id, _known())} ('testbed list scenarios' shows all)")
    from scenarios.spec import parse_spec

    entry, where = catalog[scenario_id]
    _SPECS[scenario_id] = parse_spec(entry, where=where)
    return _SPECS[scenario_id]


def resolve_spec(id_or_spec: str | Path | dict | ScenarioSpec, **overrides: Any) -> ScenarioSpec:
    """Turn an id, a YAML path, a dict or a spec into a validated spec with overrides applied.

    Override keys that name a spec field (``time_limit``, ``layers``...) replace it;
    any other key is a source keyword argument.
    """
    if isinstance(id_or_spec, (str, Path)):
        text = str(id_or_spec)
        if text not in _known() and not (text.endswith((".yaml", ".yml")) or Path(text).is_file()):
            get_spec(text)  # an unknown id: one line, before the spec models load
    from scenarios.spec import ScenarioSpec, load_spec_file, parse_spec

    if isinstance(id_or_spec, ScenarioSpec):
        spec = id_or_spec
    elif isinstance(id_or_spec, dict):
        spec = parse_spec(id_or_spec)
    else:
        text = str(id_or_spec)
        if text in _known():
            spec = get_spec(text)
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
    from scenarios.scenario import Scenario  # the sources and MuJoCo load here, not on import

    return Scenario(resolve_spec(id_or_spec, **overrides), seed=seed)
