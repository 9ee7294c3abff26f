"""External forces on MuJoCo bodies: pushes (impulses) and persistent wrenches,
as RARL and Isaac Lab apply them, through ``data.xfrc_applied``.

A push of impulse J (N*s) is applied as the force J / (frame_skip * timestep)
during all physics substeps of one environment step, so a free body's velocity
changes by J / mass. Each layer adds its own contribution before the step and
removes it after, so several force layers and the source never overwrite each
other. Forces are written per copy (``Physics.add_xfrc``): on the batch, each
simulation gets its own push at its own step.

YAML examples::

    - {type: push, params: {body: torso, every: 100, impulse: [5.0, 10.0], direction: random_horizontal}}
    - {type: push, params: {body: torso, probability: 0.01, impulse: [2.0, 2.0], direction: [1, 0, 0]}}
    - type: wrench
      params: {body: torso, force: [5.0, 0.0, 0.0], scale: {kind: sine, low: -1, high: 1, period: 200}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from scenarios.errors import UserError
from scenarios.layers.base import Layer, LayerParams
from scenarios.layers.physics import require_physics
from scenarios.layers.schedules import Schedule, ScheduledValue

if TYPE_CHECKING:
    from scenarios.scenario import Scenario


class PushParams(LayerParams):
    body: str = Field(description="Body that receives the push.")
    every: int | None = Field(default=None, gt=0, description="Push every this many steps...")
    probability: float | None = Field(default=None, ge=0, le=1, description="...or with this chance each step.")
    impulse: tuple[float, float] = Field(description="Impulse magnitude range [low, high] in N*s.")
    direction: Literal["random_horizontal", "random"] | list[float] = Field(default="random_horizontal")

    @model_validator(mode="after")
    def _valid(self) -> PushParams:
        if (self.every is None) == (self.probability is None):
            raise ValueError("give exactly one of every or probability")
        lo, hi = self.impulse
        if lo < 0 or lo > hi:
            raise ValueError(f"impulse range must satisfy 0 <= low <= high (got {list(self.impulse)})")
        if isinstance(self.direction, list) and (len(self.direction) != 3 or not any(self.direction)):
            raise ValueError("direction must be a non-zero 3-vector")
        return self


def _bind_body(layer: Layer, scenario: Scenario, body: str) -> tuple[Any, int, float]:
    ph = require_physics(scenario, layer.type)
    bid = int(ph.handle.ids("body", [body], f"layer {layer.type}")[0])
    if bid == 0:
        raise UserError(f"layer {layer.type}: cannot push the world body")
    return ph, bid, ph.frame_skip * ph.handle.model.opt.timestep


class Push(Layer):
    """Impulses on a body, on a fixed period or at random steps."""

    type = "push"
    Params = PushParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.ph, self.body, self.dt = _bind_body(self, scenario, self.p.body)
        self._applied: tuple[np.ndarray, np.ndarray] | None = None

    def _directions(self, ids: np.ndarray) -> np.ndarray:
        d = self.p.direction
        if isinstance(d, list):
            v = np.broadcast_to(np.asarray(d, float), (len(ids), 3))
        elif d == "random_horizontal":
            a = 2 * np.pi * self.draws("angle", ids, (), kind="uniform")
            v = np.stack([np.cos(a), np.sin(a), np.zeros(len(ids))], axis=1)
        else:
            v = self.draws("direction", ids, (3,))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        u = self.draws("when", ids, (), kind="uniform")  # every draw is taken every step, for every copy
        size = self.draws("size", ids, (), kind="uniform")
        direction = self._directions(ids)
        due = (t % self.p.every == 0) if self.p.every else (u < self.p.probability)
        if not due.any():
            return
        lo, hi = self.p.impulse
        impulse = (lo + (hi - lo) * size[due])[:, None] * direction[due]
        where = ids[due]
        force = impulse / self.dt
        self.ph.add_xfrc(where, self.body, force)
        self._applied = (where, force)
        for j, imp in zip(np.flatnonzero(due), impulse):
            report[j][f"push.{self.p.body}"] = imp.tolist()

    def after_step(self, ids: np.ndarray, t: np.ndarray, infos: list[dict[str, dict]]) -> None:
        if self._applied is not None:
            where, force = self._applied
            self.ph.add_xfrc(where, self.body, -force)
            self._applied = None


class WrenchParams(LayerParams):
    body: str = Field(description="Body the wrench acts on (at its centre of mass, world frame).")
    force: list[float] = Field(default=[0.0, 0.0, 0.0], min_length=3, max_length=3, description="Force in N.")
    torque: list[float] = Field(default=[0.0, 0.0, 0.0], min_length=3, max_length=3, description="Torque in N*m.")
    scale: float | Schedule = Field(default=1.0, description="Multiplier over time (a schedule makes it vary).")


class Wrench(Layer):
    """A persistent force and torque on a body, optionally following a schedule."""

    type = "wrench"
    Params = WrenchParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.ph, self.body, _ = _bind_body(self, scenario, self.p.body)
        self.base = np.array(self.p.force + self.p.torque, float)
        self.scale = ScheduledValue(self.p.scale, self.n)
        self._applied: tuple[np.ndarray, np.ndarray] | None = None

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        values = self.scale.reset(ids, self.streams.rngs, self.streams)
        if isinstance(self.p.scale, Schedule):
            for j, v in enumerate(values):
                report[j][f"wrench.{self.p.body}.scale"] = float(v)

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        later = t > 1
        values = self.scale.value[ids].copy()
        if later.any():
            values[later] = self.scale.advance(ids[later], t[later], self.streams)
        wrench = values[:, None] * self.base
        self.ph.add_xfrc(ids, self.body, wrench)
        self._applied = (ids.copy(), wrench)
        if self.scale.varies:
            for j, v in enumerate(values):
                report[j][f"wrench.{self.p.body}.scale"] = float(v)

    def after_step(self, ids: np.ndarray, t: np.ndarray, infos: list[dict[str, dict]]) -> None:
        if self._applied is not None:
            where, wrench = self._applied
            self.ph.add_xfrc(where, self.body, -wrench)
            self._applied = None


LAYERS = (Push, Wrench)
