"""Sampling physical parameters relative to their nominal values.

Shared by every dynamics layer (MuJoCo, MPE, multiwalker): one typed
``ParamRange`` says what to change (field, element names, component), how
(``scale`` / ``add`` / ``set``) and with what distribution (``uniform``,
``log_uniform``, ``gaussian``, ``log_normal`` (``mean`` is the median, ``std``
the standard deviation of the log: what ``sim2real.dropo`` fits), ``constant``).
``boundary_prob`` puts that share of a uniform range's draws exactly on its
ends (ADR's boundary sampling: ``sim2real.adr`` trains there). ``apply_operation`` always
starts from the stored nominal, so a thousand resets never compound, and
clamps the result to the field's physical lower bound.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from scenarios.layers.base import LayerParams


class ParamRange(LayerParams):
    """One randomized physical parameter."""

    field: str = Field(description="What to change, e.g. body_mass, geom_friction, gravity, mass (MPE).")
    names: list[str] | None = Field(default=None, min_length=1,
                                    description="Elements (bodies, geoms, joints, actuators, entities); None: all.")
    component: int | None = Field(default=None, ge=0, description="Column of a multi-valued field (friction: 0 sliding, 1 torsional, 2 rolling; gravity/wind: 0 x, 1 y, 2 z).")
    operation: Literal["scale", "add", "set"] = Field(default="scale", description="new = nominal * x, nominal + x, or x.")
    distribution: Literal["uniform", "log_uniform", "gaussian", "log_normal", "constant"] = Field(default="uniform")
    low: float | None = Field(default=None, description="uniform / log_uniform lower end.")
    high: float | None = Field(default=None, description="uniform / log_uniform upper end.")
    mean: float | None = Field(default=None, description="gaussian mean; log_normal median (> 0).")
    std: float | None = Field(default=None, description="gaussian standard deviation; log_normal std of the log (>= 0).")
    value: float | None = Field(default=None, description="constant value.")
    shared: bool = Field(default=False, description="One draw for all selected elements instead of one each.")
    boundary_prob: float = Field(default=0.0, ge=0.0, le=1.0, description="uniform / log_uniform: probability that a draw is exactly low or high (half each).")

    @model_validator(mode="after")
    def _valid(self) -> ParamRange:
        d = self.distribution
        need = {"uniform": ("low", "high"), "log_uniform": ("low", "high"), "gaussian": ("mean", "std"),
                "log_normal": ("mean", "std"), "constant": ("value",)}[d]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{self.field}: a {d} distribution needs {', '.join(missing)}")
        if d in ("uniform", "log_uniform") and self.low > self.high:  # type: ignore[operator]
            raise ValueError(f"{self.field}: low {self.low} is above high {self.high}")
        if d in ("gaussian", "log_normal") and self.std < 0:  # type: ignore[operator]
            raise ValueError(f"{self.field}: std must be >= 0 (got {self.std})")
        if self.boundary_prob > 0 and d not in ("uniform", "log_uniform"):
            raise ValueError(f"{self.field}: boundary_prob needs a uniform or log_uniform distribution (got {d})")
        if d == "log_uniform" and self.low <= 0:  # type: ignore[operator]
            raise ValueError(f"{self.field}: log_uniform needs low > 0 (got {self.low})")
        if d == "log_normal" and self.mean <= 0:  # type: ignore[operator]
            raise ValueError(f"{self.field}: log_normal needs a median (mean) > 0 (got {self.mean})")
        if self.operation == "scale":
            smallest = {"uniform": self.low, "log_uniform": self.low, "gaussian": self.mean, "log_normal": self.mean,
                        "constant": self.value}[d]
            if smallest <= 0:  # type: ignore[operator]
                raise ValueError(f"{self.field}: a scale must be > 0 (got {smallest})")
        return self

    def label(self) -> str:
        """Short name used in reported parameters."""
        return self.field if self.component is None else f"{self.field}[{self.component}]"


def draw(spec: ParamRange, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws (or one repeated, when ``shared``) from the spec's distribution."""
    k = 1 if spec.shared else n
    d = spec.distribution
    if d == "uniform":
        x = rng.uniform(spec.low, spec.high, k)
    elif d == "log_uniform":
        x = np.exp(rng.uniform(np.log(spec.low), np.log(spec.high), k))
    elif d == "gaussian":
        x = rng.normal(spec.mean, spec.std, k)
    elif d == "log_normal":
        x = spec.mean * np.exp(rng.normal(0.0, spec.std, k))
    else:
        x = np.full(k, spec.value, dtype=float)
    if spec.boundary_prob > 0:  # no extra draws otherwise: existing seeds keep their trajectories
        edge = rng.random(k) < spec.boundary_prob
        x = np.where(edge, np.where(rng.random(k) < 0.5, spec.low, spec.high), x)
    return np.broadcast_to(x, (n,)) if spec.shared else x


def apply_operation(nominal: np.ndarray, x: np.ndarray, operation: str, lower: float | None,
                    upper: float | None = None) -> np.ndarray:
    """``nominal`` changed by draws ``x``, clamped to the physical bounds ``[lower, upper]`` (None: unbounded)."""
    if operation == "scale":
        out = nominal * x
    elif operation == "add":
        out = nominal + x
    else:
        out = np.array(x, dtype=float, copy=True)
    out = out if lower is None else np.maximum(out, lower)
    return out if upper is None else np.minimum(out, upper)
