"""Physical parameters of the PettingZoo sources: mpe2's particle worlds and SISL multiwalker.

``mpe_dynamics`` fields: ``mass``, ``accel`` (the action sensitivity; mpe2's
default 5.0 where unset), ``max_speed``, ``size`` (per entity: agent names
such as ``agent_0`` or landmark names such as ``landmark 0``), and ``damping``
(the world's). ``multiwalker_dynamics`` fields: ``package_mass``,
``package_friction``, ``terrain_friction``, ``walker_mass`` (Box2D densities
rescaled, mass data recomputed). Values are drawn relative to nominals stored
at bind time (or, for multiwalker, read when each episode builds its bodies)
and applied after the source's reset, which rebuilds or repositions entities.
``mpe_dynamics`` is batch-first: each copy draws from its own generator and writes
its own values, into the one mpe2 world of the single-copy face (``WorldRows``) or
into its rows of the batched particle backend's per-copy arrays
(``scenarios.batch.particle_vector.ParticleRows``), so copy k of a batch samples
what it samples alone. ``multiwalker_dynamics`` acts on one Box2D world, so it runs
on the single-copy face (the Gymnasium-copies vectorized face gives each copy its own).

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
"""Each field's mpe2 attribute and physical lower bound."""
MPE_UPPER = {"damping": 1.0}
"""Physical upper bounds: mpe2 scales velocities by ``1 - damping`` each step, so damping above 1
would reverse and grow them (a damping of 5 multiplied every velocity by -4 a step)."""
MULTIWALKER_FIELDS = {"package_mass": 1e-6, "package_friction": 0.0, "terrain_friction": 0.0, "walker_mass": 1e-6}


class ParticleParams(LayerParams):
    mode: Literal["startup", "reset"] = Field(default="reset", description="Draw once, or every episode.")
    parameters: list[ParamRange] = Field(min_length=1)


class WorldRows:
    """The one mpe2 world of the single-copy face, read and written as ``ParticleRows`` does a batch's rows."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.objects = {e.name: e for e in list(world.agents) + list(world.landmarks)}
        self.entities = list(self.objects)
        self.agents = [a.name for a in world.agents]

    def nominal(self, field: str, names: list[str]) -> np.ndarray:
        """Current values (mpe2's: the layer reads them at bind); unlimited speeds as inf, unset accel as 5."""
        if field == "damping":
            return np.array([float(self.world.damping)])
        attr = MPE_FIELDS[field][0]
        default = 5.0 if field == "accel" else np.inf  # mpe2's sensitivity when accel is unset; max_speed None
        return np.array([default if getattr(self.objects[n], attr) is None else float(getattr(self.objects[n], attr))
                         for n in names])

    def write(self, field: str, names: list[str], ids: np.ndarray, values: np.ndarray) -> None:
        """The world (copy 0) takes ``values[0]``."""
        if field == "damping":
            self.world.damping = float(values[0, 0])
            return
        for n, v in zip(names, values[0]):
            setattr(self.objects[n], MPE_FIELDS[field][0], float(v))


class MPEDynamics(Layer):
    """Randomizes mpe2 entity masses, accelerations, speeds, sizes and world damping, per copy."""

    type = "mpe_dynamics"
    Params = ParticleParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        target = getattr(scenario, "particles", None)
        if target is None:
            world = getattr(getattr(getattr(scenario, "source", None), "unwrapped", None), "world", None)
            if world is None or not hasattr(world, "damping"):
                raise UserError(f"layer {self.type} needs an mpe2 source, not {scenario.spec.source}")
            target = WorldRows(world)
        self.target = target
        self.targets = []
        for spec in self.p.parameters:
            if spec.field not in MPE_FIELDS:
                raise UserError(f"layer {self.type}: unknown field '{spec.field}' (valid: {', '.join(MPE_FIELDS)})")
            lower = MPE_FIELDS[spec.field][1]
            if spec.field == "damping":
                names, labels = ["damping"], ["damping"]
            else:
                pool = target.agents if spec.field in ("accel", "max_speed") else target.entities
                names = list(spec.names or pool)
                unknown = [n for n in names if n not in pool]
                if unknown:
                    raise UserError(f"layer {self.type}: no entity {unknown} for {spec.field} (valid: {', '.join(pool)})")
                labels = [f"{spec.field}.{n}" for n in names]
            nominal = target.nominal(spec.field, names)
            if not np.isfinite(nominal).all():
                if spec.operation != "set":
                    raise UserError(f"layer {self.type}: {labels[0]} is unlimited in this scenario; use operation 'set'")
                nominal = np.where(np.isfinite(nominal), nominal, 0.0)
            self.targets.append((spec, (lower, MPE_UPPER.get(spec.field)), names, labels, nominal))
        self.values: list[dict[str, float] | None] = [None] * self.n

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for j, i in enumerate(np.asarray(ids, np.int64)):
            if self.values[i] is None or self.p.mode != "startup":
                values: dict[str, float] = {}
                for spec, (lower, upper), names, labels, nominal in self.targets:
                    new = apply_operation(nominal, draw(spec, self.rng(int(i)), len(names)), spec.operation, lower, upper)
                    self.target.write(spec.field, names, np.array([i]), np.asarray(new, np.float64)[None])
                    values.update({label: float(v) for label, v in zip(labels, new)})
                self.values[i] = values
            report[j].update(self.values[i])


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
