"""Observation layers: noise, bias, drift, dropped readings, stuck sensors, delay,
quantization and distractor dimensions (realworldrl_suite and Robust-Gymnasium's
state disruptions, each dimension independent).

YAML examples (``layers:`` entries of a scenario definition)::

    - {type: obs_gaussian_noise, params: {std: 0.1}}
    - {type: obs_uniform_noise, params: {half_width: 0.05}}
    - {type: obs_bias, params: {std: 0.2}}              # per-episode bias per dimension
    - {type: obs_drift, params: {rate: 0.01, max_abs: 0.5}}
    - {type: obs_dropout, params: {probability: 0.05, mode: hold}}
    - {type: obs_stuck, params: {probability: 0.01, duration: 20}}
    - {type: obs_delay, params: {steps: 3, jitter: 1}}
    - {type: obs_quantize, params: {step: 0.05}}
    - {type: obs_distractors, params: {dims: 10, kind: random_walk, std: 0.1}}
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from gymnasium import spaces
from pydantic import Field, model_validator

from scenarios.layers.base import GaussianDraws, Layer, LayerParams, StdParams, require_box, unbounded

if TYPE_CHECKING:
    from scenarios.scenario import Scenario


class _ObsLayer(Layer):
    """Shared binding for layers that act on float Box observations."""

    widens = True

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        require_box(self, scenario, "observation")
        self.dtype = {a: scenario.observation_space(a).dtype for a in self.agents}
        self.shape = {a: scenario.observation_space(a).shape for a in self.agents}

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        return unbounded(space) if (self.widens and agent in self.agents) else space


class ObsGaussianNoise(_ObsLayer):
    """Adds independent N(0, std^2) noise to every observation dimension."""

    type = "obs_gaussian_noise"
    Params = StdParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.draws = GaussianDraws(self, self.p.std, {a: (self.shape[a], self.dtype[a]) for a in self.agents})

    def hooks(self) -> set[str]:
        return super().hooks() - self.draws.unused_hooks()

    def start_episode(self) -> dict[str, Any]:
        return {f"{self.type}.std": self.draws.std.reset(self.rng)}

    def before_step(self, t: int) -> None:
        self.draws.std.advance(t, self.rng)

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        return x + self.draws.next(agent)


class UniformNoiseParams(LayerParams):
    half_width: float = Field(ge=0, description="Noise is U(-half_width, half_width) per dimension.")


class ObsUniformNoise(_ObsLayer):
    """Adds independent uniform noise to every observation dimension."""

    type = "obs_uniform_noise"
    Params = UniformNoiseParams

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        u = self.noise(agent, self.shape[agent], kind="uniform")
        return (x + self.p.half_width * (2.0 * u - 1.0)).astype(self.dtype[agent], copy=False)


class BiasParams(LayerParams):
    value: float | list[float] | None = Field(default=None, description="Fixed bias (scalar or per dimension).")
    std: float | None = Field(default=None, ge=0, description="Or: draw N(0, std^2) per dimension each episode.")

    @model_validator(mode="after")
    def _one(self) -> BiasParams:
        if (self.value is None) == (self.std is None):
            raise ValueError("give exactly one of value or std")
        return self


class ObsBias(_ObsLayer):
    """Adds a constant bias per dimension (fixed, or drawn once per episode)."""

    type = "obs_bias"
    Params = BiasParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        if isinstance(self.p.value, list):
            for a in self.agents:
                if len(self.p.value) != int(np.prod(self.shape[a])):
                    raise_len(self, a, len(self.p.value), self.shape[a])
        self.bias: dict[str, np.ndarray] = {}

    def start_episode(self) -> dict[str, Any]:
        for a in self.agents:
            if self.p.std is not None:
                self.bias[a] = self.rng.normal(0.0, self.p.std, self.shape[a])
            else:
                self.bias[a] = np.broadcast_to(np.asarray(self.p.value, float).reshape(-1), self.shape[a]).copy()
        return {f"{self.type}.{a}": self.bias[a].tolist() for a in self.agents} if self.p.std is not None else {}

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        return (x + self.bias[agent]).astype(self.dtype[agent], copy=False)


def raise_len(layer: Layer, agent: str, got: int, shape: tuple[int, ...]) -> None:
    """Refuse a per-dimension list whose length does not match the observation."""
    from scenarios.errors import UserError

    raise UserError(f"layer {layer.type}: {got} values given but {agent} observations have shape {shape}")


class DriftParams(LayerParams):
    rate: float = Field(ge=0, description="Std of the per-step gaussian increment of the bias.")
    max_abs: float | None = Field(default=None, gt=0, description="Clip the drifting bias to +-max_abs.")


class ObsDrift(_ObsLayer):
    """A slowly drifting sensor bias: a per-dimension random walk from zero each episode."""

    type = "obs_drift"
    Params = DriftParams

    def start_episode(self) -> dict[str, Any]:
        self.bias = {a: np.zeros(self.shape[a]) for a in self.agents}
        return {}

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        b = self.bias[agent]
        b += self.p.rate * self.noise(agent, self.shape[agent])
        if self.p.max_abs is not None:
            np.clip(b, -self.p.max_abs, self.p.max_abs, out=b)
        return (x + b).astype(self.dtype[agent], copy=False)


class DropoutParams(LayerParams):
    probability: float = Field(ge=0, le=1, description="Chance per dimension per step that a reading is dropped.")
    mode: Literal["zero", "hold"] = Field(default="zero", description="Dropped reads as 0, or holds its last value.")


class ObsDropout(_ObsLayer):
    """Drops readings independently per dimension: zeroed or held at the last delivered value."""

    type = "obs_dropout"
    Params = DropoutParams
    widens = False

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        if agent in self.agents and self.p.mode == "zero" and isinstance(space, spaces.Box):
            if np.any(space.low > 0) or np.any(space.high < 0):
                return unbounded(space)
        return space

    def start_episode(self) -> dict[str, Any]:
        self.last: dict[str, np.ndarray | None] = {a: None for a in self.agents}
        return {}

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        drop = self.noise(agent, self.shape[agent], kind="uniform") < self.p.probability
        prev = self.last[agent]
        out = np.array(x, copy=True)
        if prev is not None and drop.any():
            out[drop] = 0 if self.p.mode == "zero" else prev[drop]
        self.last[agent] = out
        return out


class StuckParams(LayerParams):
    probability: float = Field(ge=0, le=1, description="Chance per dimension per step that a sensor sticks.")
    duration: int | None = Field(default=None, gt=0, description="Steps it stays stuck (None: rest of the episode).")


class ObsStuck(_ObsLayer):
    """Stuck sensors: a dimension freezes at its current reading for a while."""

    type = "obs_stuck"
    Params = StuckParams
    widens = False

    def start_episode(self) -> dict[str, Any]:
        self.left = {a: np.zeros(self.shape[a], np.int64) for a in self.agents}
        self.value = {a: np.zeros(self.shape[a]) for a in self.agents}
        self.started = {a: False for a in self.agents}
        return {}

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        left, value = self.left[agent], self.value[agent]
        out = np.array(x, copy=True)
        stuck = left != 0
        out[stuck] = value[stuck]
        left[left > 0] -= 1
        if self.started[agent]:
            new = (~stuck) & (self.noise(agent, self.shape[agent], kind="uniform") < self.p.probability)
            if new.any():
                value[new] = out[new]
                left[new] = -1 if self.p.duration is None else self.p.duration
        self.started[agent] = True
        return out


class DelayParams(LayerParams):
    steps: int = Field(ge=0, description="The agent sees the observation from this many steps earlier.")
    jitter: int = Field(default=0, ge=0, description="Per-step delay drawn from steps +- jitter (at least 0).")


class ObsDelay(_ObsLayer):
    """Delays observations by k steps (the first observation repeats until history fills)."""

    type = "obs_delay"
    Params = DelayParams
    widens = False

    def start_episode(self) -> dict[str, Any]:
        self.history = {a: deque(maxlen=self.p.steps + self.p.jitter + 1) for a in self.agents}
        return {}

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        h = self.history[agent]
        if not h:
            h.extend([x] * h.maxlen)  # type: ignore[operator]
        else:
            h.append(x)
        k = self.p.steps
        if self.p.jitter:
            k = max(0, k + int(self.rng.integers(-self.p.jitter, self.p.jitter + 1)))
        return np.array(h[-1 - k], copy=True)


class QuantizeParams(LayerParams):
    step: float = Field(gt=0, description="Readings are rounded to multiples of this step.")


class ObsQuantize(_ObsLayer):
    """Quantizes readings to a fixed resolution, like an ADC."""

    type = "obs_quantize"
    Params = QuantizeParams

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        return (np.round(x / self.p.step) * self.p.step).astype(self.dtype[agent], copy=False)


class DistractorParams(LayerParams):
    dims: int = Field(gt=0, description="Extra dimensions appended to the observation.")
    kind: Literal["gaussian", "random_walk"] = Field(default="gaussian", description="i.i.d. noise or a random walk.")
    std: float = Field(default=1.0, ge=0, description="Std of the noise (or of the walk's steps).")


class ObsDistractors(_ObsLayer):
    """Appends irrelevant dimensions (noise or random walks) to flat observations."""

    type = "obs_distractors"
    Params = DistractorParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        from scenarios.errors import UserError

        for a in self.agents:
            if len(self.shape[a]) != 1:
                raise UserError(f"layer {self.type} needs flat observations; {scenario.id} {a} has shape {self.shape[a]}")

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        if agent not in self.agents:
            return space
        return spaces.Box(-np.inf, np.inf, (space.shape[0] + self.p.dims,), space.dtype)

    def start_episode(self) -> dict[str, Any]:
        self.walk = {a: np.zeros(self.p.dims) for a in self.agents}
        return {}

    def observe(self, agent: str, x: np.ndarray) -> np.ndarray:
        z = self.p.std * self.noise(agent, (self.p.dims,))
        if self.p.kind == "random_walk":
            self.walk[agent] += z
            z = self.walk[agent]
        return np.concatenate([x, z]).astype(self.dtype[agent], copy=False)


LAYERS = (ObsGaussianNoise, ObsUniformNoise, ObsBias, ObsDrift, ObsDropout, ObsStuck, ObsDelay, ObsQuantize, ObsDistractors)
