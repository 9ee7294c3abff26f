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
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


def constant(t: int, value: float) -> float:
    """The same value at every step."""
    return value


def uniform_per_episode(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw, taken at the start of each episode."""
    return float(rng.uniform(low, high))


def random_walk(previous: float, rng: np.random.Generator, step_std: float, low: float, high: float) -> float:
    """Previous value plus a gaussian step, reflected into [low, high]."""
    x = previous + float(rng.normal(0.0, step_std))
    span = high - low
    if span <= 0:
        return low
    y = (x - low) % (2 * span)
    return low + (y if y <= span else 2 * span - y)


def drift(t: int, start: float, rate: float, low: float = -math.inf, high: float = math.inf) -> float:
    """Linear drift ``start + rate * t``, clipped to [low, high]."""
    return float(min(max(start + rate * t, low), high))


def sine(t: int, low: float, high: float, period: float, phase: float = 0.0) -> float:
    """Cyclic between low and high with the given period (steps); starts at the midpoint."""
    mid, amp = (low + high) / 2.0, (high - low) / 2.0
    return mid + amp * math.sin(2.0 * math.pi * (t / period + phase))


def saw(t: int, low: float, high: float, period: float) -> float:
    """Rises linearly from low to high over each period, then jumps back."""
    return low + (high - low) * ((t % period) / period)


def step(t: int, values: list[float], boundaries: list[int]) -> float:
    """``values[i]`` from ``boundaries[i-1]`` (inclusive) to ``boundaries[i]``; ``values[0]`` before the first."""
    i = int(np.searchsorted(np.asarray(boundaries), t, side="right"))
    return values[i]


class Schedule(BaseModel):
    """A scheduled value: kind plus the fields that kind uses."""

    model_config = ConfigDict(extra="forbid")

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
        return self

    def initial(self, rng: np.random.Generator) -> float:
        """The value at an episode's start (draws for uniform, mid-range for a random walk)."""
        if self.kind == "uniform":
            return uniform_per_episode(rng, self.low, self.high)  # type: ignore[arg-type]
        if self.kind == "random_walk":
            return (self.low + self.high) / 2.0  # type: ignore[operator]
        return self.at(0, rng, 0.0)

    def at(self, t: int, rng: np.random.Generator, previous: float) -> float:
        """The value at step ``t`` given the previous value (used by the stateful kinds)."""
        k = self.kind
        if k == "constant":
            return constant(t, self.value)  # type: ignore[arg-type]
        if k == "uniform":
            return previous
        if k == "random_walk":
            return random_walk(previous, rng, self.step_std, self.low, self.high)  # type: ignore[arg-type]
        if k == "drift":
            lo = -math.inf if self.low is None else self.low
            hi = math.inf if self.high is None else self.high
            return drift(t, self.start, self.rate, lo, hi)  # type: ignore[arg-type]
        if k == "sine":
            return sine(t, self.low, self.high, self.period, self.phase)  # type: ignore[arg-type]
        if k == "saw":
            return saw(t, self.low, self.high, self.period)  # type: ignore[arg-type]
        return step(t, self.values, self.boundaries)  # type: ignore[arg-type]


class ScheduledValue:
    """The running state of a ``float | Schedule`` parameter for one layer."""

    def __init__(self, spec: float | Schedule) -> None:
        self.spec = spec
        self.value = float(spec) if not isinstance(spec, Schedule) else 0.0
        self.global_t = 0

    @property
    def varies(self) -> bool:
        """Whether the value can change within an episode."""
        return isinstance(self.spec, Schedule) and self.spec.kind not in ("constant", "uniform")

    def reset(self, rng: np.random.Generator) -> float:
        """Value at the start of an episode."""
        if isinstance(self.spec, Schedule):
            if self.spec.clock == "global" and self.varies:
                self.value = self.spec.at(self.global_t, rng, self.value)
            else:
                self.value = self.spec.initial(rng)
        return self.value

    def advance(self, t: int, rng: np.random.Generator) -> float:
        """Value at episode step ``t`` (t >= 1)."""
        self.global_t += 1
        if self.varies:
            clock = self.global_t if self.spec.clock == "global" else t  # type: ignore[union-attr]
            self.value = self.spec.at(clock, rng, self.value)  # type: ignore[union-attr]
        return self.value
