"""Physical parameters of the PettingZoo sources: mpe2's particle worlds and SISL multiwalker.

``mpe_dynamics`` fields: ``mass``, ``accel`` (the action sensitivity; mpe2's
default 5.0 where unset), ``max_speed``, ``size`` (per entity: agent names
such as ``agent_0`` or landmark names such as ``landmark 0``), and ``damping``
(the world's). ``multiwalker_dynamics`` fields: ``package_mass``,
``package_friction``, ``terrain_friction``, ``walker_mass`` (Box2D densities
rescaled, mass data recomputed). Values are drawn relative to nominals stored
at bind time (or, for multiwalker, read when each episode builds its bodies)
and applied after the source's reset, which rebuilds or repositions entities.
These layers act on one PettingZoo world, so they run on the single-copy face
(N = 1; the Gymnasium-copies vectorized face gives each copy its own).

YAML examples::

    - type: mpe_dynamics
      params: {parameters: [{field: mass, names: [agent_0], low: 0.5, high: 2.0}, {field: damping, low: 0.5, high: 2.0}]}
    - type: multiwalker_dynamics
      params: {parameters: [{field: package_mass, low: 0.5, high: 2.0}, {field: terrain_friction, low: 0.5, high: 1.5}]}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from scenarios.errors import UserError
from scenarios.layers.base import Layer, LayerParams
from scenarios.layers.sampling import ParamRange, apply_operation, draw

if TYPE_CHECKING:
    from scenarios.scenario import Scenario

MPE_FIELDS = {"mass": ("initial_mass", 1e-6), "accel": ("accel", 0.0), "max_speed": ("max_speed", 0.0),
              "size": ("size", 1e-6), "damping": ("damping", 0.0)}
MULTIWALKER_FIELDS = {"package_mass": 1e-6, "package_friction": 0.0, "terrain_friction": 0.0, "walker_mass": 1e-6}


class ParticleParams(LayerParams):
    mode: Literal["startup", "reset"] = Field(default="reset", description="Draw once, or every episode.")
    parameters: list[ParamRange] = Field(min_length=1)


class MPEDynamics(Layer):
    """Randomizes mpe2 entity masses, accelerations, speeds, sizes and world damping."""

    type = "mpe_dynamics"
    Params = ParticleParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        world = getattr(getattr(scenario.source, "unwrapped", None), "world", None)
        if world is None or not hasattr(world, "damping"):
            raise UserError(f"layer {self.type} needs an mpe2 source, not {scenario.spec.source}")
        self.world = world
        entities = {e.name: e for e in list(world.agents) + list(world.landmarks)}
        self.targets = []
        for spec in self.p.parameters:
            if spec.field not in MPE_FIELDS:
                raise UserError(f"layer {self.type}: unknown field '{spec.field}' (valid: {', '.join(MPE_FIELDS)})")
            attr, lower = MPE_FIELDS[spec.field]
            if spec.field == "damping":
                objs, labels = [world], ["damping"]
            else:
                pool = world.agents if spec.field in ("accel", "max_speed") else list(entities.values())
                names = spec.names or [e.name for e in pool]
                unknown = [n for n in names if n not in {e.name for e in pool}]
                if unknown:
                    raise UserError(f"layer {self.type}: no entity {unknown} for {spec.field} (valid: {', '.join(e.name for e in pool)})")
                objs, labels = [entities[n] for n in names], [f"{spec.field}.{n}" for n in names]
            nominal = []
            for o in objs:
                v = getattr(o, attr)
                if v is None and spec.field == "accel":
                    v = 5.0  # mpe2's sensitivity when accel is unset
                if v is None:
                    if spec.operation != "set":
                        raise UserError(f"layer {self.type}: {labels[0]} is unlimited in this scenario; use operation 'set'")
                    v = 0.0
                nominal.append(float(v))
            self.targets.append((spec, attr, lower, objs, labels, np.array(nominal)))
        self.values: dict[str, Any] = {}
        self._drawn = False

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        if not (self.p.mode == "startup" and self._drawn):
            self.values = {}
            for spec, attr, lower, objs, labels, nominal in self.targets:
                new = apply_operation(nominal, draw(spec, self.rng(0), len(objs)), spec.operation, lower)
                for o, v, label in zip(objs, new, labels):
                    setattr(o, attr, float(v))
                    self.values[label] = float(v)
            self._drawn = True
        report[0].update(self.values)


class MultiwalkerDynamics(Layer):
    """Randomizes multiwalker's package mass and friction, terrain friction and walker mass."""

    type = "multiwalker_dynamics"
    Params = ParticleParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        env = getattr(getattr(scenario.source, "unwrapped", None), "env", None)
        if env is None or not hasattr(env, "walkers"):
            raise UserError(f"layer {self.type} needs sisl/multiwalker, not {scenario.spec.source}")
        for spec in self.p.parameters:
            if spec.field not in MULTIWALKER_FIELDS:
                raise UserError(f"layer {self.type}: unknown field '{spec.field}' (valid: {', '.join(MULTIWALKER_FIELDS)})")
        self.env = env
        self.drawn: dict[str, float] = {}
        self.values: dict[str, Any] = {}

    def _fixtures(self, field: str) -> list[Any]:
        e = self.env
        if field.startswith("package"):
            return list(e.package.fixtures)
        if field == "terrain_friction":
            return [f for body in e.terrain for f in body.fixtures]
        return [f for w in e.walkers for f in w.hull.fixtures]

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        if not (self.p.mode == "startup" and self.drawn):
            self.drawn = {spec.field: float(draw(spec, self.rng(0), 1)[0]) for spec in self.p.parameters}
        self.values = {}
        for spec in self.p.parameters:
            fixtures = self._fixtures(spec.field)
            attr = "friction" if spec.field.endswith("friction") else "density"
            nominal = np.array([getattr(f, attr) for f in fixtures])  # bodies are rebuilt at each reset
            new = apply_operation(nominal, np.full(len(fixtures), self.drawn[spec.field]), spec.operation,
                                  MULTIWALKER_FIELDS[spec.field])
            for f, v in zip(fixtures, new):
                setattr(f, attr, float(v))
            bodies = {id(f.body): f.body for f in fixtures}
            for body in bodies.values():
                body.ResetMassData()
            if spec.field == "package_mass":
                self.values[spec.field] = float(self.env.package.mass)
            elif spec.field == "walker_mass":
                self.values[spec.field] = float(self.env.walkers[0].hull.mass)
            else:
                self.values[spec.field] = float(new[0])
        report[0].update(self.values)


LAYERS = (MPEDynamics, MultiwalkerDynamics)
