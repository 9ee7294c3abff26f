"""Schedules: how a parameter changes over time, as pure functions plus a typed spec.

Each kind is a pure function of the step ``t`` (and, for the random kinds, of
an explicit generator and the previous value). ``Schedule`` is the YAML form;
any layer parameter typed ``float | Schedule`` accepts one, e.g.::

    std: {kind: sine, low: 0.0, high: 0.3, period: 200}

``clock: episode`` (default) counts steps since the episode began;
``clock: global`` counts every step the scenario copy has taken, for
curricula that span episodes.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


def constant(t: int, value: float) -> float:
    """The same value at every step."""
    return value


def uniform_per_episode(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw, taken at the start of each episode."""
    return float(rng.uniform(low, high))


def random_walk(previous: Any, z: Any, step_std: float, low: float, high: float) -> Any:
    """Previous value plus a gaussian step ``step_std * z`` (z standard normal), reflected into [low, high]."""
    x = np.asarray(previous, float) + step_std * np.asarray(z, float)
    span = high - low
    if span <= 0:
        return np.full_like(x, low)[()]
    y = (x - low) % (2 * span)
    return (low + np.where(y <= span, y, 2 * span - y))[()]


def drift(t: Any, start: float, rate: float, low: float = -math.inf, high: float = math.inf) -> Any:
    """Linear drift ``start + rate * t``, clipped to [low, high] (t a step or an array of steps)."""
    return np.clip(start + rate * np.asarray(t, float), low, high)[()]


def sine(t: Any, low: float, high: float, period: float, phase: float = 0.0) -> Any:
    """Cyclic between low and high with the given period (steps); starts at the midpoint."""
    mid, amp = (low + high) / 2.0, (high - low) / 2.0
    return (mid + amp * np.sin(2.0 * math.pi * (np.asarray(t, float) / period + phase)))[()]


def saw(t: Any, low: float, high: float, period: float) -> Any:
    """Rises linearly from low to high over each period, then jumps back."""
    return (low + (high - low) * ((np.asarray(t, float) % period) / period))[()]


def step(t: Any, values: list[float], boundaries: list[int]) -> Any:
    """``values[i]`` from ``boundaries[i-1]`` (inclusive) to ``boundaries[i]``; ``values[0]`` before the first."""
    i = np.searchsorted(np.asarray(boundaries), t, side="right")
    return np.asarray(values, float)[i][()]


class Schedule(BaseModel):
    """A scheduled value: kind plus the fields that kind uses."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["constant", "uniform", "random_walk", "drift", "sine", "saw", "step"]
    value: float | None = None
    low: float | None = None
    high: float | None = None
    start: float | None = None
    rate: float | None = None
    step_std: float | None = Field(default=None, ge=0)
    period: float | None = Field(default=None, gt=0)
    phase: float = 0.0
    values: list[float] | None = None
    boundaries: list[int] | None = None
    clock: Literal["episode", "global"] = "episode"

    @model_validator(mode="after")
    def _needs(self) -> Schedule:
        need = {
            "constant": ("value",), "uniform": ("low", "high"), "random_walk": ("low", "high", "step_std"),
            "drift": ("start", "rate"), "sine": ("low", "high", "period"), "saw": ("low", "high", "period"),
            "step": ("values", "boundaries"),
        }[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"schedule '{self.kind}' needs {', '.join(missing)}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"schedule low {self.low} is above high {self.high}")
        if self.kind == "step" and len(self.values or []) != len(self.boundaries or []) + 1:
            raise ValueError("a step schedule needs one more value than boundaries")
        if self.kind == "step" and any(b >= c for b, c in zip(self.boundaries or [], (self.boundaries or [])[1:])):
            raise ValueError(f"a step schedule's boundaries must increase (got {self.boundaries})")
        return self

    def lowest(self) -> float:
        """The smallest value the schedule can take (``-inf`` for a drift down with no ``low``), so a
        parameter with a lower bound (a noise std >= 0) can refuse a schedule that would cross it."""
        k = self.kind
        if k == "constant":
            return float(self.value)  # type: ignore[arg-type]
        if k == "step":
            return float(min(self.values))  # type: ignore[type-var]
        if k == "drift":
            lo = -math.inf if self.low is None else self.low
            hi = math.inf if self.high is None else self.high
            return lo if self.rate < 0 else float(np.clip(self.start, lo, hi))  # type: ignore[operator]
        return float(self.low)  # type: ignore[arg-type]  # uniform, random_walk, sine, saw span [low, high]

    def initial(self, rng: np.random.Generator) -> float:
        """The value at an episode's start (draws for uniform, mid-range for a random walk)."""
        if self.kind == "uniform":
            return uniform_per_episode(rng, self.low, self.high)  # type: ignore[arg-type]
        if self.kind == "random_walk":
            return (self.low + self.high) / 2.0  # type: ignore[operator]
        return float(self.at(np.zeros(1), np.zeros(1), np.zeros(1))[0])

    def at(self, t: np.ndarray, previous: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The values at steps ``t`` given the previous values (the stateful kinds) and standard
        normal draws ``z`` (random walks), one per copy."""
        k = self.kind
        if k == "constant":
            return np.full(len(t), constant(0, self.value))  # type: ignore[arg-type]
        if k == "uniform":
            return np.asarray(previous, float)
        if k == "random_walk":
            return np.atleast_1d(random_walk(previous, z, self.step_std, self.low, self.high))  # type: ignore[arg-type]
        if k == "drift":
            lo = -math.inf if self.low is None else self.low
            hi = math.inf if self.high is None else self.high
            return np.atleast_1d(drift(t, self.start, self.rate, lo, hi))  # type: ignore[arg-type]
        if k == "sine":
            return np.atleast_1d(sine(t, self.low, self.high, self.period, self.phase))  # type: ignore[arg-type]
        if k == "saw":
            return np.atleast_1d(saw(t, self.low, self.high, self.period))  # type: ignore[arg-type]
        return np.atleast_1d(step(t, self.values, self.boundaries))  # type: ignore[arg-type]


class ScheduledValue:
    """The running state of a ``float | Schedule`` parameter for ``n`` copies of a layer.

    ``value[i]`` is copy ``i``'s current value; random walks draw from the
    owning layer's per-copy streams (key ``key``), so copies stay independent.
    """

    def __init__(self, spec: float | Schedule, n: int = 1, key: Any = "schedule") -> None:
        self.spec, self.key = spec, key
        self.value = np.full(n, float(spec) if not isinstance(spec, Schedule) else 0.0)
        self.global_t = np.zeros(n, np.int64)

    @property
    def varies(self) -> bool:
        """Whether the value can change within an episode."""
        return isinstance(self.spec, Schedule) and self.spec.kind not in ("constant", "uniform")

    def reset(self, ids: np.ndarray, rngs: list[np.random.Generator], streams: Any = None) -> np.ndarray:
        """Values at the start of these copies' episodes."""
        spec = self.spec
        if isinstance(spec, Schedule):
            if spec.clock == "global" and self.varies:
                z = self._z(ids, streams)
                self.value[ids] = spec.at(self.global_t[ids], self.value[ids], z)
            else:
                self.value[ids] = [spec.initial(rngs[int(i)]) for i in ids]
        return self.value[ids]

    def advance(self, ids: np.ndarray, t: np.ndarray, streams: Any = None) -> np.ndarray:
        """Values at episode steps ``t[j]`` (>= 1) of copies ``ids[j]``."""
        self.global_t[ids] += 1
        if self.varies:
            spec = self.spec
            clock = self.global_t[ids] if spec.clock == "global" else t  # type: ignore[union-attr]
            self.value[ids] = spec.at(clock, self.value[ids], self._z(ids, streams))  # type: ignore[union-attr]
        return self.value[ids]

    def _z(self, ids: np.ndarray, streams: Any) -> np.ndarray:
        if self.spec.kind != "random_walk" or streams is None:  # type: ignore[union-attr]
            return np.zeros(len(ids))
        return streams.draws(self.key, ids)
