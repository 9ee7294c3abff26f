"""The layer registry: every layer type a scenario definition can stack.

``build_layers(specs)`` validates each entry's parameters with the layer's own
typed model and returns the layer objects; ``Scenario`` binds them in order.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel, ValidationError

from scenarios.errors import UserError, suggest
from scenarios.layers import action, adversary_policy, dynamics, forces, observation, particle_dynamics, reward, safety
from scenarios.layers.base import Layer
from scenarios.spec import LayerSpec

LAYERS: dict[str, type[Layer]] = {
    cls.type: cls
    for module in (observation, action, reward, safety, dynamics, forces, particle_dynamics, adversary_policy)
    for cls in module.LAYERS
}


def _most_telling(errors: list[dict]) -> dict:
    """The error to report: a misspelled key first (``sdt: 0.1`` also makes ``std`` missing, and
    'std: Field required' hid the typo); then, as a union (``std: 0.1`` or a schedule mapping) fails in
    every branch and the branches the input was not meant for only say their type does not fit
    (``float_type`` for a mapping), the first error of another kind says what is wrong with the branch meant."""
    extra = next((e for e in errors if e.get("type") == "extra_forbidden"), None)
    if extra is not None:
        return extra
    return next((e for e in errors if not str(e.get("type", "")).endswith("_type")), errors[0])


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (``ParamRange`` in ``list[ParamRange]``, ``Schedule`` in
    ``float | Schedule``), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _valid_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The fields the mapping holding ``loc``'s last key accepts (empty where that is not a model)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or _branch(part):  # a list index or a union branch's label
            continue
        if current is None or part not in current.model_fields:
            return []
        current = _model_in(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def _branch(part: object) -> bool:
    """A union branch's label in an error location (``float``, ``function-after[_needs(), Schedule]``),
    not a field the user wrote."""
    return isinstance(part, str) and ("[" in part or part in ("float", "int", "str", "bool", "Schedule"))


def build_layers(specs: list[LayerSpec]) -> list[Layer]:
    """Validate layer specs into layer objects (unbound)."""
    out = []
    for i, spec in enumerate(specs):
        cls = LAYERS.get(spec.type)
        if cls is None:
            raise UserError(f"unknown layer type '{spec.type}'{suggest(spec.type, LAYERS)} (valid: {', '.join(sorted(LAYERS))})")
        try:
            params = cls.Params.model_validate(spec.params)
        except ValidationError as exc:
            err = _most_telling(exc.errors())
            loc = ".".join(str(p) for p in err["loc"] if not _branch(p)) or "params"
            if err.get("type") == "extra_forbidden":
                valid = _valid_keys(cls.Params, tuple(err["loc"]))
                raise UserError(f"layer {i} ({spec.type}): '{loc}': {err['msg']}{suggest(str(err['loc'][-1]), valid)}"
                                f" (valid: {', '.join(valid) or 'no parameters'})") from None
            raise UserError(f"layer {i} ({spec.type}): '{loc}': {err['msg']}") from None
        out.append(cls(params, spec.agents))
    return out
