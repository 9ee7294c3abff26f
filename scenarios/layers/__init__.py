"""The layer registry: every layer type a scenario definition can stack.

``build_layers(specs)`` validates each entry's parameters with the layer's own
typed model and returns the layer objects; ``Scenario`` binds them in order.
"""

from __future__ import annotations

from pydantic import ValidationError

from scenarios.errors import UserError, suggest
from scenarios.layers import action, adversary_policy, dynamics, forces, observation, particle_dynamics, reward, safety
from scenarios.layers.base import Layer
from scenarios.spec import LayerSpec

LAYERS: dict[str, type[Layer]] = {
    cls.type: cls
    for module in (observation, action, reward, safety, dynamics, forces, particle_dynamics, adversary_policy)
    for cls in module.LAYERS
}


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
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "params"
            raise UserError(f"layer {i} ({spec.type}): '{loc}': {err['msg']}") from None
        out.append(cls(params, spec.agents))
    return out
