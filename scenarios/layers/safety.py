"""A safety cost channel for MuJoCo tasks (realworldrl_suite's safety constraints).

Each step, each enabled constraint reports 1 when violated: ``joint_limit``
(a limited joint within ``margin`` of its range, as a fraction of the range),
``joint_velocity`` (a joint speed above ``limit``; the floating root excluded),
``fall`` (a body's height below ``min_height``; by default the task's own
healthy-height bound). ``infos[agent]["cost"]`` is their sum and
``infos[agent]["costs"]`` the breakdown; the harness sums cost per episode.

YAML example::

    - type: safety_cost
      params: {joint_limit: {margin: 0.05}, joint_velocity: {limit: 10.0}, fall: {body: torso}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from scenarios.errors import UserError
from scenarios.layers.base import Layer, LayerParams
from scenarios.layers.physics import require_physics

if TYPE_CHECKING:
    from scenarios.scenario import Scenario


class JointLimit(LayerParams):
    margin: float = Field(default=0.0, ge=0, lt=0.5, description="Fraction of the joint range counted as violation.")


class JointVelocity(LayerParams):
    limit: float = Field(gt=0, description="Largest allowed joint speed (rad/s or m/s).")


class Fall(LayerParams):
    body: str = Field(default="torso", description="Body whose height is watched.")
    min_height: float | None = Field(default=None, description="Height below which the robot has fallen.")


class SafetyParams(LayerParams):
    joint_limit: JointLimit | None = None
    joint_velocity: JointVelocity | None = None
    fall: Fall | None = None

    @model_validator(mode="after")
    def _some(self) -> SafetyParams:
        if not (self.joint_limit or self.joint_velocity or self.fall):
            raise ValueError("enable at least one of joint_limit, joint_velocity, fall")
        return self


class SafetyCost(Layer):
    """Reports per-step constraint violations as a cost in ``info``."""

    type = "safety_cost"
    Params = SafetyParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.ph = require_physics(scenario, self.type)
        self.ph.watch({"qpos", "qvel", "xpos"})
        h = self.ph.handle
        m = h.model
        hinge_slide = [j for j in range(m.njnt) if int(m.jnt_type[j]) in (2, 3)]
        limited = [j for j in hinge_slide if m.jnt_limited[j]]
        if self.p.joint_limit and not limited:
            raise UserError(f"layer safety_cost: {scenario.id} has no limited joints for joint_limit")
        self.q_adr = np.array([m.jnt_qposadr[j] for j in limited], dtype=int)
        lo, hi = (m.jnt_range[limited].T if limited else (np.zeros(0), np.zeros(0)))
        margin = (self.p.joint_limit.margin if self.p.joint_limit else 0.0) * (hi - lo)
        self.q_lo, self.q_hi = lo + margin, hi - margin
        self.v_adr = np.array([m.jnt_dofadr[j] for j in hinge_slide], dtype=int)
        if self.p.fall:
            self.fall_body = int(h.ids("body", [self.p.fall.body], "layer safety_cost fall")[0])
            height = self.p.fall.min_height
            if height is None:
                z_range = getattr(h.env, "_healthy_z_range", None)
                if z_range is None:
                    raise UserError(f"layer safety_cost: {scenario.id} has no healthy height; give fall.min_height")
                height = float(z_range[0])
            self.min_height = height

    def costs(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Each enabled constraint's violation (0 or 1) for these copies, vectorized over copies."""
        out: dict[str, np.ndarray] = {}
        if self.p.joint_limit:
            q = self.ph.state(ids, "qpos")[:, self.q_adr]
            out["joint_limit"] = np.any((q < self.q_lo) | (q > self.q_hi), axis=1).astype(float)
        if self.p.joint_velocity:
            v = self.ph.state(ids, "qvel")[:, self.v_adr]
            out["joint_velocity"] = np.any(np.abs(v) > self.p.joint_velocity.limit, axis=1).astype(float)
        if self.p.fall:
            out["fall"] = (self.ph.state(ids, "xpos")[:, self.fall_body, 2] < self.min_height).astype(float)
        return out

    def after_step(self, ids: np.ndarray, t: np.ndarray, infos: list[dict[str, dict]]) -> None:
        costs = self.costs(ids)
        total = sum(costs.values())
        for j, info in enumerate(infos):
            row = {k: float(v[j]) for k, v in costs.items()}
            for a in self.agents:
                if a in info:
                    info[a]["cost"] = info[a].get("cost", 0.0) + float(total[j])
                    info[a].setdefault("costs", {}).update(row)


LAYERS = (SafetyCost,)
