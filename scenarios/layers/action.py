"""Action layers: noise, delay, sticky (repeated) actions, dropped actions, gain
error and saturation, applied to what the agent sends before the source sees it.

YAML examples::

    - {type: action_gaussian_noise, params: {std: 0.1}}     # clipped to the action bounds
    - {type: action_delay, params: {steps: 3}}
    - {type: action_sticky, params: {probability: 0.25}}
    - {type: action_dropout, params: {probability: 0.05}}   # zero action (discrete: noop index)
    - {type: action_gain, params: {low: 0.8, high: 1.2}}    # per-episode gain per dimension
    - {type: action_saturation, params: {fraction: 0.5}}    # at most half the actuator range
    - {type: action_deadband, params: {width: 0.05}}        # |a_i| < 0.05 -> 0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces
from pydantic import Field, model_validator

from scenarios.errors import UserError
from scenarios.layers.base import DelayLine, GaussianDraws, Layer, LayerParams, StdParams, per_copy, require_box

if TYPE_CHECKING:
    from scenarios.scenario import Scenario


def _null_action(space: spaces.Space, noop: int, layer: str, agent: str) -> Any:
    """The action a dropped or not-yet-sent action becomes: zero (clipped into a Box), or the
    ``noop``-th action of a Discrete space (refused in one line when the space has no such action)."""
    if isinstance(space, spaces.Box):
        return np.clip(np.zeros(space.shape, space.dtype), space.low, space.high)
    if isinstance(space, spaces.Discrete):
        if noop >= int(space.n):
            raise UserError(f"layer {layer}: noop {noop} is not an action of {agent} (valid: 0-{int(space.n) - 1}, {space})")
        return np.int64(space.start + noop)
    return np.zeros(space.shape, space.dtype)


def clip(x: np.ndarray, low: np.ndarray, high: np.ndarray, dtype: Any) -> np.ndarray:
    """``x`` clipped to [low, high] in ``dtype``, as two ufuncs (``np.clip``'s Python wrapper costs ~3 us a call,
    which the single-copy face pays every step)."""
    out = np.minimum(x, high, dtype=dtype)
    return np.maximum(out, low, out=out)


class ActionGaussianNoise(Layer):
    """Adds independent gaussian noise per action dimension, clipped to the action bounds."""

    type = "action_gaussian_noise"
    Params = StdParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        require_box(self, scenario, "action")
        self.space = {a: scenario.action_space(a) for a in self.agents}
        self.draws_ = GaussianDraws(self, self.p.std, {a: (s.shape, s.dtype) for a, s in self.space.items()})

    def hooks(self) -> set[str]:
        return super().hooks() - self.draws_.unused_hooks()

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for j, v in enumerate(self.draws_.std.reset(ids, self.streams.rngs, self.streams)):
            report[j][f"{self.type}.std"] = float(v)

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        self.draws_.std.advance(ids, t, self.streams)

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        s = self.space[agent]
        return clip(self.draws_.next(agent, ids) + a, s.low, s.high, s.dtype)


class ActionDelayParams(LayerParams):
    steps: int = Field(ge=0, description="The source receives the action sent this many steps earlier.")
    noop: int = Field(default=0, ge=0, description="Discrete action used before the queue fills.")


class ActionDelay(Layer):
    """Delays actions by k steps; the first k steps apply the zero (or noop) action."""

    type = "action_delay"
    Params = ActionDelayParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.null = {a: _null_action(scenario.action_space(a), self.p.noop, self.type, a) for a in self.agents}
        self.queue = {a: DelayLine(self.n, self.p.steps, np.shape(v), np.asarray(v).dtype, self.type) for a, v in self.null.items()}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.queue[a].fill(ids, self.null[a])

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.queue[agent].swap(ids, a)


class ProbabilityParams(LayerParams):
    probability: float = Field(ge=0, le=1, description="Chance per step.")
    noop: int = Field(default=0, ge=0, description="Discrete action used when an action is dropped.")


class ActionSticky(Layer):
    """Sticky actions: with probability p the previous applied action repeats."""

    type = "action_sticky"
    Params = ProbabilityParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.space = {a: scenario.action_space(a) for a in self.agents}
        self.last = {a: np.zeros((self.n, *s.shape), s.dtype) for a, s in self.space.items()}
        self.fresh = {a: np.ones(self.n, bool) for a in self.agents}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.fresh[a][ids] = True

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        repeat = (self.draws(agent, ids, (), kind="uniform") < self.p.probability) & ~self.fresh[agent][ids]
        out = np.where(per_copy(repeat, a.ndim - 1), self.last[agent][ids], a) if repeat.any() else a
        self.last[agent][ids] = out
        self.fresh[agent][ids] = False
        return out


class ActionDropout(Layer):
    """Dropped actions: with probability p the source receives the zero (or noop) action."""

    type = "action_dropout"
    Params = ProbabilityParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.null = {a: _null_action(scenario.action_space(a), self.p.noop, self.type, a) for a in self.agents}

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        drop = self.draws(agent, ids, (), kind="uniform") < self.p.probability
        if not drop.any():
            return a
        return np.where(per_copy(drop, a.ndim - 1), self.null[agent], a).astype(a.dtype, copy=False)


class GainParams(LayerParams):
    value: float | list[float] | None = Field(default=None, description="Fixed gain (scalar or per dimension).")
    low: float | None = Field(default=None, description="Or: per-episode uniform gain in [low, high] per dimension.")
    high: float | None = None

    @model_validator(mode="after")
    def _valid(self) -> GainParams:
        ranged = self.low is not None or self.high is not None
        if (self.value is None) == (not ranged) or (ranged and (self.low is None or self.high is None)):
            raise ValueError("give either value, or both low and high")
        values = [self.low, self.high] if ranged else np.atleast_1d(self.value).tolist()  # type: ignore[arg-type]
        if min(values) <= 0:
            raise ValueError(f"gains must be > 0 (got {min(values)})")
        if ranged and self.low > self.high:  # type: ignore[operator]
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


class ActionGain(Layer):
    """Actuator gain error: actions are multiplied per dimension, then clipped to the bounds."""

    type = "action_gain"
    Params = GainParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        require_box(self, scenario, "action")
        self.space = {a: scenario.action_space(a) for a in self.agents}
        self.gain = {a: np.ones((self.n, *s.shape)) for a, s in self.space.items()}
        if self.p.value is not None:
            for a, s in self.space.items():
                value = np.asarray(self.p.value, float)
                if value.ndim and value.shape != s.shape:
                    raise UserError(f"layer {self.type}: {value.size} gains given but {a}'s actions have shape "
                                    f"{s.shape} (valid: one gain, or one per action dimension)")
                self.gain[a][:] = np.broadcast_to(value, s.shape)

    def hooks(self) -> set[str]:
        return super().hooks() - ({"start_episode"} if self.p.value is not None else set())

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for j, i in enumerate(ids):
            for a, s in self.space.items():
                self.gain[a][i] = self.rng(int(i)).uniform(self.p.low, self.p.high, s.shape)
                report[j][f"{self.type}.{a}"] = self.gain[a][i].tolist()

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        s = self.space[agent]
        return clip(np.asarray(a) * self.gain[agent][ids], s.low, s.high, s.dtype)


class SaturationParams(LayerParams):
    fraction: float = Field(gt=0, le=1, description="Actions are clipped to this fraction of the bounds.")


class ActionSaturation(Layer):
    """Actuator saturation: actions clipped to a fraction of the range around its centre."""

    type = "action_saturation"
    Params = SaturationParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        require_box(self, scenario, "action")
        self.bounds = {}
        for a in self.agents:
            s = scenario.action_space(a)
            mid, half = (s.high + s.low) / 2.0, (s.high - s.low) / 2.0 * self.p.fraction
            self.bounds[a] = (mid - half, mid + half, s.dtype)

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        lo, hi, dtype = self.bounds[agent]
        return clip(a, lo, hi, dtype)


class DeadbandParams(LayerParams):
    width: float = Field(gt=0, description="Action components with |a| below this are zeroed (actuator deadband).")


class ActionDeadband(Layer):
    """Actuator deadband: small commands produce no actuation (|a_i| < width -> 0)."""

    type = "action_deadband"
    Params = DeadbandParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        require_box(self, scenario, "action")

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        return np.where(np.abs(a) < self.p.width, 0, a).astype(a.dtype, copy=False)


LAYERS = (ActionGaussianNoise, ActionDelay, ActionSticky, ActionDropout, ActionGain, ActionSaturation, ActionDeadband)
