"""MuJoCo dynamics randomization through the compiled model (single-agent MuJoCo and MaMuJoCo).

Fields: ``body_mass`` (inertia scaled by the same ratio), ``geom_friction``
(component 0 sliding, 1 torsional, 2 rolling), ``dof_damping``,
``dof_armature``, ``dof_frictionloss`` (named by joint), ``actuator_gear``,
``actuator_gain``, ``gravity`` and ``wind`` (component = axis), ``viscosity``,
``density``, and ``geom_size`` (uniform scale of every size component, with
the bounding radius, for collision geoms). Nominal values are stored when the
layer binds; every sample is computed from them and clamped to physical bounds
(mass > 0; friction, damping, armature, frictionloss, viscosity, density >= 0;
sizes > 0). After masses, inertias or sizes change, ``mj_setConst`` recomputes
the model's derived constants (the simulation state is preserved).

Each copy draws from its own generator and writes its own model rows
(``Physics.row(i)``): on the batched backend one layer covers N simulations,
each with its own masses and frictions; on the single-copy face the row is the
env's ``MjModel``.

YAML example::

    - type: dynamics
      params:
        mode: reset                 # startup | reset | interval
        interval: 100               # steps, for mode interval
        parameters:
          - {field: body_mass, names: [torso], low: 0.5, high: 1.5}
          - {field: geom_friction, names: [floor], component: 0, distribution: log_uniform, low: 0.3, high: 3.0}
          - {field: gravity, component: 2, operation: set, distribution: gaussian, mean: -9.81, std: 0.3}
          - {field: dof_damping, distribution: log_normal, mean: 1.2, std: 0.1}   # median 1.2x, log-std 0.1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from scenarios.errors import UserError
from scenarios.layers.base import Layer, LayerParams
from scenarios.layers.physics import Physics, require_physics
from scenarios.layers.sampling import ParamRange, apply_operation, draw

if TYPE_CHECKING:
    from scenarios.scenario import Scenario

# field -> (element kind, model attribute, default component, physical lower bound)
FIELDS: dict[str, tuple[str, str, int | None, float | None]] = {
    "body_mass": ("body", "body_mass", None, 1e-6),
    "geom_friction": ("geom", "geom_friction", 0, 0.0),
    "dof_damping": ("dof", "dof_damping", None, 0.0),
    "dof_armature": ("dof", "dof_armature", None, 0.0),
    "dof_frictionloss": ("dof", "dof_frictionloss", None, 0.0),
    "actuator_gear": ("actuator", "actuator_gear", 0, None),
    "actuator_gain": ("actuator", "actuator_gainprm", 0, None),
    "gravity": ("opt", "gravity", 2, None),
    "wind": ("opt", "wind", 0, None),
    "viscosity": ("opt", "viscosity", None, 0.0),
    "density": ("opt", "density", None, 0.0),
    "geom_size": ("geom", "geom_size", None, 1e-6),
}
_AXES = "xyz"


class DynamicsParams(LayerParams):
    mode: Literal["startup", "reset", "interval"] = Field(default="reset", description="When to draw new values.")
    interval: int | None = Field(default=None, gt=0, description="Steps between draws in interval mode.")
    parameters: list[ParamRange] = Field(min_length=1, description="What to randomize.")


@dataclass
class _Target:
    spec: ParamRange
    ids: np.ndarray
    labels: list[str]
    nominal: np.ndarray
    extra: np.ndarray | None = None  # nominal inertia (mass) or bounding radius (size)


class Dynamics(Layer):
    """Randomizes MuJoCo model fields relative to stored nominal values."""

    type = "dynamics"
    Params = DynamicsParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.bind_physics(require_physics(scenario, self.type))

    def bind_physics(self, physics: Physics) -> None:
        """Bind to a ``Physics`` directly (names checked, nominals stored, fields made per-copy)."""
        if self.p.mode == "interval" and self.p.interval is None:
            raise UserError("layer dynamics: mode 'interval' needs interval (steps)")
        self.ph = physics
        self.h = physics.handle
        self.targets = [self._target(spec) for spec in self.p.parameters]
        self.needs_const = any(t.spec.field in ("body_mass", "geom_size") for t in self.targets)
        physics.expand(self.fields())
        self.values: list[dict[str, Any]] = [{} for _ in range(self.n)]
        self._drawn = np.zeros(self.n, bool)

    def _target(self, spec: ParamRange) -> _Target:
        if spec.field not in FIELDS:
            raise UserError(f"layer dynamics: unknown field '{spec.field}' (valid: {', '.join(FIELDS)})")
        kind, attr, default_comp, _ = FIELDS[spec.field]
        m, what = self.h.model, f"layer dynamics {spec.field}"
        comp = spec.component if spec.component is not None else default_comp
        if spec.field == "geom_size" and spec.operation != "scale":
            raise UserError("layer dynamics: geom_size supports operation 'scale' only (a uniform resize)")
        if kind == "opt":
            if spec.names:
                raise UserError(f"{what}: a global option takes no names (use component for an axis)")
            arr = np.atleast_1d(np.asarray(getattr(m.opt, attr), dtype=float))
            if comp is not None and comp >= arr.size:
                raise UserError(f"{what}: component {comp} out of range (0-{arr.size - 1})")
            ids = np.array([comp if arr.size > 1 else 0])
            label = f"{spec.field}.{_AXES[comp]}" if arr.size > 1 else spec.field
            return _Target(spec, ids, [label], arr[ids].copy())
        if kind == "dof":
            ids = self.h.dof_ids(spec.names, what)
            labels = [f"{spec.field}.dof{i}" for i in ids]
        else:
            ids = self.h.ids(kind, spec.names, what)
            names = self.h.names(kind)
            labels = [f"{spec.field}.{names[i]}" + (f"[{comp}]" if comp not in (None, 0) else "") for i in ids]
        arr = getattr(m, attr)
        if comp is not None and arr.ndim == 2 and comp >= arr.shape[1]:
            raise UserError(f"{what}: component {comp} out of range (0-{arr.shape[1] - 1})")
        nominal = (arr[ids, comp] if (comp is not None and arr.ndim == 2) else arr[ids]).copy()
        extra = None
        if spec.field == "body_mass":
            extra = m.body_inertia[ids].copy()
        elif spec.field == "geom_size":
            extra = m.geom_rbound[ids].copy()
        return _Target(spec, ids, labels, nominal, extra)

    def write(self, m: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Draw new values from the nominals with ``rng`` and write them into ``m``; returns the values.

        ``m`` is an ``MjModel`` or anything with its field attributes (a batch
        simulation's rows of per-simulation fields). Derived constants are the
        caller's to recompute.
        """
        values: dict[str, Any] = {}
        for t in self.targets:
            spec = t.spec
            kind, attr, default_comp, lower = FIELDS[spec.field]
            comp = spec.component if spec.component is not None else default_comp
            x = draw(spec, rng, len(t.ids))
            if spec.field == "geom_size":
                factor = np.maximum(x, 1e-6)
                scaled = t.nominal * factor[:, None]
                m.geom_size[t.ids] = np.where(t.nominal > 0, np.maximum(scaled, lower), t.nominal)  # unused slots stay 0
                m.geom_rbound[t.ids] = t.extra * factor
                new = factor
            else:
                new = apply_operation(t.nominal, x, spec.operation, lower)
                if kind == "opt":
                    current = np.atleast_1d(np.asarray(getattr(m.opt, attr), dtype=float)).copy()
                    current[t.ids] = new
                    setattr(m.opt, attr, current if current.size > 1 else float(current[0]))
                elif comp is not None and getattr(m, attr).ndim == 2:
                    getattr(m, attr)[t.ids, comp] = new
                else:
                    getattr(m, attr)[t.ids] = new
                if spec.field == "body_mass":
                    ratio = np.divide(new, t.nominal, out=np.ones_like(new), where=t.nominal > 0)
                    if spec.operation == "scale":  # exactly the drawn factor unless the bound clamped it
                        ratio = np.where(new == t.nominal * x, x, ratio)
                    m.body_inertia[t.ids] = t.extra * ratio[:, None]
            values.update({label: float(v) for label, v in zip(t.labels, np.atleast_1d(new))})
        return values

    def fields(self) -> set[str]:
        """The model fields this layer writes (``opt.<name>`` for global options)."""
        out = set()
        for t in self.targets:
            kind, attr, _, _ = FIELDS[t.spec.field]
            out.add(f"opt.{attr}" if kind == "opt" else attr)
            if t.spec.field == "body_mass":
                out.add("body_inertia")
            if t.spec.field == "geom_size":
                out.add("geom_rbound")
        return out

    def hooks(self) -> set[str]:
        return super().hooks() - (set() if self.p.mode == "interval" else {"before_step"})

    def _draw(self, ids: Any) -> None:
        for i in ids:
            self.values[int(i)] = self.write(self.ph.row(int(i)), self.rng(int(i)))
        self._drawn[ids] = True
        if self.needs_const:
            self.ph.set_const(np.asarray(ids))

    def before_reset(self, ids: np.ndarray) -> None:
        todo = ids[~self._drawn[ids]] if self.p.mode == "startup" else ids
        if len(todo):
            self._draw(todo)

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for j, i in enumerate(ids):
            report[j].update(self.values[int(i)])

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        due = t % self.p.interval == 0  # type: ignore[operator]
        if due.any():
            self._draw(ids[due])
            for j in np.flatnonzero(due):
                report[j].update(self.values[int(ids[j])])

    def nominal(self) -> dict[str, float]:
        """The stored nominal value of every randomized element."""
        return {label: float(v) for t in self.targets for label, v in zip(t.labels, np.atleast_1d(t.nominal))}


LAYERS = (Dynamics,)
