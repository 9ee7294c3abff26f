"""External forces on MuJoCo bodies: pushes (impulses) and persistent wrenches,
as RARL and Isaac Lab apply them, through ``data.xfrc_applied``.

A push of impulse J (N*s) is applied as the force J / (frame_skip * timestep)
during all physics substeps of one environment step, so a free body's velocity
changes by J / mass. Each layer adds its own contribution before the step and
removes it after, so several force layers and the source never overwrite each
other.

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
from scenarios.layers.mujoco_model import require_mujoco
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
    h = require_mujoco(scenario, layer.type)
    bid = int(h.ids("body", [body], f"layer {layer.type}")[0])
    if bid == 0:
        raise UserError(f"layer {layer.type}: cannot push the world body")
    return h, bid, h.frame_skip * h.model.opt.timestep


class Push(Layer):
    """Impulses on a body, on a fixed period or at random steps."""

    type = "push"
    Params = PushParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.h, self.body, self.dt = _bind_body(self, scenario, self.p.body)
        self._applied: np.ndarray | None = None

    def _direction(self) -> np.ndarray:
        d = self.p.direction
        if isinstance(d, list):
            v = np.asarray(d, float)
        elif d == "random_horizontal":
            a = self.rng.uniform(0, 2 * np.pi)
            v = np.array([np.cos(a), np.sin(a), 0.0])
        else:
            v = self.rng.standard_normal(3)
        return v / np.linalg.norm(v)

    def before_step(self, t: int) -> dict[str, Any] | None:
        due = (t % self.p.every == 0) if self.p.every else (self.rng.random() < self.p.probability)
        if not due:
            return None
        impulse = self.rng.uniform(*self.p.impulse) * self._direction()
        self._applied = impulse / self.dt
        self.h.data.xfrc_applied[self.body, :3] += self._applied
        return {f"push.{self.p.body}": impulse.tolist()}

    def after_step(self, t: int, obs: dict, rewards: dict, terminated: dict, truncated: dict, infos: dict) -> None:
        if self._applied is not None:
            self.h.data.xfrc_applied[self.body, :3] -= self._applied
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
        self.h, self.body, _ = _bind_body(self, scenario, self.p.body)
        self.base = np.array(self.p.force + self.p.torque, float)
        self.scale = ScheduledValue(self.p.scale)
        self._applied: np.ndarray | None = None

    def start_episode(self) -> dict[str, Any]:
        value = self.scale.reset(self.rng)
        return {f"wrench.{self.p.body}.scale": value} if isinstance(self.p.scale, Schedule) else {}

    def before_step(self, t: int) -> dict[str, Any] | None:
        value = self.scale.advance(t, self.rng) if t > 1 else self.scale.value
        self._applied = value * self.base
        self.h.data.xfrc_applied[self.body] += self._applied
        return {f"wrench.{self.p.body}.scale": value} if self.scale.varies else None

    def after_step(self, t: int, obs: dict, rewards: dict, terminated: dict, truncated: dict, infos: dict) -> None:
        if self._applied is not None:
            self.h.data.xfrc_applied[self.body] -= self._applied
            self._applied = None


LAYERS = (Push, Wrench)
