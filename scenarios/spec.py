"""The typed schema of a scenario definition (YAML file or dict).

A scenario is data: a versioned id, the source it wraps with the source's own
keyword arguments, a time limit, how the team return is aggregated, and a
stack of layers. Validation errors become one :class:`UserError` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scenarios import yaml_loader
from scenarios.errors import UserError

ID_PATTERN = r"^[a-z0-9_]+/[A-Za-z0-9_.\-]+-v[0-9]+$"


class LayerSpec(BaseModel):
    """One layer of the perturbation stack: its type, parameters and target agents."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    type: str = Field(description="Registered layer type, e.g. 'obs_noise'.")
    params: dict[str, Any] = Field(default_factory=dict, description="The layer's own parameters.")
    agents: list[str] | None = Field(default=None, description="Agents it applies to; None means all.")

    @field_validator("agents")
    @classmethod
    def _distinct_agents(cls, agents: list[str] | None) -> list[str] | None:
        """Refuse an agent named twice (the layer's per-agent hooks ran once per mention: a bias added
        twice) and an empty list (a layer that applies to nobody, silently)."""
        if agents is not None and not agents:
            raise ValueError("an empty list applies the layer to no agent (valid: omit agents for every agent, or name them)")
        if agents is not None:
            twice = sorted({a for a in agents if agents.count(a) > 1})
            if twice:
                raise ValueError(f"{', '.join(twice)} given twice (valid: distinct agent names)")
        return agents


class ScenarioSpec(BaseModel):
    """A complete, validated scenario definition."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=ID_PATTERN, description="Versioned id, 'family/name-vN'.")
    source: str = Field(description="Source env, 'kind:name', e.g. 'gymnasium:HalfCheetah-v5'.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the source.")
    time_limit: int | None = Field(default=None, gt=0, description="Steps before truncation; None keeps the source's own.")
    team_reward: Literal["sum", "mean"] = Field(default="sum", description="How per-agent returns aggregate into the team return.")
    setting: Literal["cooperative", "competitive", "mixed"] = Field(
        default="cooperative", description="Whether agents share one goal (cooperative), oppose (competitive) or both (mixed).")
    description: str = Field(default="", description="One line shown by 'testbed list' and 'describe'.")
    layers: list[LayerSpec] = Field(default_factory=list, description="Perturbation layers, applied in order.")


def _explain(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    got = err.get("input")
    got_txt = "" if isinstance(got, dict) else f" (got {got!r})"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: field '{loc}': {err['msg']}{got_txt}{more}"


def parse_spec(data: Any, where: str = "scenario spec") -> ScenarioSpec:
    """Validate a dict (or a ScenarioSpec) into a ScenarioSpec, raising UserError on bad input."""
    if isinstance(data, ScenarioSpec):
        return data
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise UserError(_explain(exc, where)) from None


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning a missing file or malformed YAML into one UserError line."""
    return yaml_loader.load_file(path)


def load_spec_file(path: str | Path) -> ScenarioSpec:
    """Load and validate a single scenario definition from a YAML file."""
    return parse_spec(load_yaml(path), where=str(path))
