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
    - {type: goal_flatten}                              # goal-conditioned Dict -> one flat vector

On goal-conditioned scenarios (``robotics/``) every layer here perturbs the
``observation`` key only (goals are not sensed); ``goal_flatten`` is the one
that sees the whole Dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from gymnasium import spaces
from pydantic import Field, model_validator

from scenarios.layers.base import GaussianDraws, Layer, LayerParams, StdParams, per_copy, require_box, unbounded, zeros

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

    def state(self, agent: str, dtype: Any = np.float64, extra: tuple[int, ...] = ()) -> np.ndarray:
        """A zeroed per-copy array ``(n, *extra, *shape)`` for ``agent``."""
        return zeros((self.n, *extra, *self.shape[agent]), dtype, self.type)


class ObsGaussianNoise(_ObsLayer):
    """Adds independent N(0, std^2) noise to every observation dimension."""

    type = "obs_gaussian_noise"
    Params = StdParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.draws_ = GaussianDraws(self, self.p.std, {a: (self.shape[a], self.dtype[a]) for a in self.agents})

    def hooks(self) -> set[str]:
        return super().hooks() - self.draws_.unused_hooks()

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        values = self.draws_.std.reset(ids, self.streams.rngs, self.streams)
        for j, v in enumerate(values):
            report[j][f"{self.type}.std"] = float(v)

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        self.draws_.std.advance(ids, t, self.streams)

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return x + self.draws_.next(agent, ids)


class UniformNoiseParams(LayerParams):
    half_width: float = Field(ge=0, description="Noise is U(-half_width, half_width) per dimension.")


class ObsUniformNoise(_ObsLayer):
    """Adds independent uniform noise to every observation dimension."""

    type = "obs_uniform_noise"
    Params = UniformNoiseParams

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        u = self.draws(agent, ids, self.shape[agent], kind="uniform")
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
        self.bias = {a: self.state(a) for a in self.agents}
        if self.p.std is None:
            for a in self.agents:
                self.bias[a][:] = np.asarray(self.p.value, float).reshape(-1).reshape(
                    self.shape[a] if isinstance(self.p.value, list) else ())

    def hooks(self) -> set[str]:
        return super().hooks() - ({"start_episode"} if self.p.std is None else set())

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for j, i in enumerate(ids):
            for a in self.agents:
                self.bias[a][i] = self.rng(int(i)).normal(0.0, self.p.std, self.shape[a])
                report[j][f"{self.type}.{a}"] = self.bias[a][i].tolist()

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return (x + self.bias[agent][ids]).astype(self.dtype[agent], copy=False)


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

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.bias = {a: self.state(a) for a in self.agents}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.bias[a][ids] = 0.0

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        b = self.bias[agent][ids] + self.p.rate * self.draws(agent, ids, self.shape[agent])
        if self.p.max_abs is not None:
            np.clip(b, -self.p.max_abs, self.p.max_abs, out=b)
        self.bias[agent][ids] = b
        return (x + b).astype(self.dtype[agent], copy=False)


class DropoutParams(LayerParams):
    probability: float = Field(ge=0, le=1, description="Chance per dimension per step that a reading is dropped.")
    mode: Literal["zero", "hold"] = Field(default="zero", description="Dropped reads as 0, or holds its last value.")


class ObsDropout(_ObsLayer):
    """Drops readings independently per dimension: zeroed or held at the last delivered value
    (an episode's first observation is always delivered)."""

    type = "obs_dropout"
    Params = DropoutParams
    widens = False

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.last = {a: self.state(a, self.dtype[a]) for a in self.agents}
        self.fresh = {a: np.ones(self.n, bool) for a in self.agents}

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        if agent in self.agents and self.p.mode == "zero" and isinstance(space, spaces.Box):
            if np.any(space.low > 0) or np.any(space.high < 0):
                return unbounded(space)
        return space

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.fresh[a][ids] = True

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        drop = self.draws(agent, ids, self.shape[agent], kind="uniform") < self.p.probability
        fresh = self.fresh[agent][ids]
        drop &= ~per_copy(fresh, len(self.shape[agent]))
        out = np.array(x, copy=True)
        if drop.any():
            out[drop] = 0 if self.p.mode == "zero" else self.last[agent][ids][drop]
        self.last[agent][ids] = out
        self.fresh[agent][ids] = False
        return out


class StuckParams(LayerParams):
    probability: float = Field(ge=0, le=1, description="Chance per dimension per step that a sensor sticks.")
    duration: int | None = Field(default=None, gt=0, description="Steps it stays stuck (None: rest of the episode).")


class ObsStuck(_ObsLayer):
    """Stuck sensors: a dimension freezes at its current reading for a while."""

    type = "obs_stuck"
    Params = StuckParams
    widens = False

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.left = {a: self.state(a, np.int64) for a in self.agents}
        self.value = {a: self.state(a) for a in self.agents}
        self.started = {a: np.zeros(self.n, bool) for a in self.agents}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.left[a][ids] = 0
            self.started[a][ids] = False

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        left, value = self.left[agent][ids], self.value[agent][ids]
        out = np.array(x, copy=True)
        stuck = left != 0
        out[stuck] = value[stuck]
        left[left > 0] -= 1
        u = self.draws(agent, ids, self.shape[agent], kind="uniform")  # drawn every step, used after the first
        new = (~stuck) & (u < self.p.probability) & per_copy(self.started[agent][ids], len(self.shape[agent]))
        if new.any():
            value[new] = out[new]
            left[new] = -1 if self.p.duration is None else self.p.duration
        self.left[agent][ids], self.value[agent][ids] = left, value
        self.started[agent][ids] = True
        return out


class DelayParams(LayerParams):
    steps: int = Field(ge=0, description="The agent sees the observation from this many steps earlier.")
    jitter: int = Field(default=0, ge=0, description="Per-step delay drawn from steps +- jitter (at least 0).")


class ObsDelay(_ObsLayer):
    """Delays observations by k steps (the first observation repeats until history fills)."""

    type = "obs_delay"
    Params = DelayParams
    widens = False

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        self.size = self.p.steps + self.p.jitter + 1
        self.history = {a: self.state(a, self.dtype[a], (self.size,)) for a in self.agents}
        self.head = {a: np.zeros(self.n, np.int64) for a in self.agents}  # slot of the newest observation
        self.fresh = {a: np.ones(self.n, bool) for a in self.agents}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.fresh[a][ids] = True

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        h = self.history[agent]
        fresh = self.fresh[agent][ids]
        head = np.where(fresh, 0, (self.head[agent][ids] + 1) % self.size)
        self.head[agent][ids] = head
        if fresh.any():
            h[ids[fresh]] = x[fresh][:, None]  # the first observation fills the history
        h[ids, head] = x
        k = np.full(len(ids), self.p.steps)
        if self.p.jitter:
            u = self.draws(agent, ids, (), kind="uniform")
            j = self.p.jitter
            k = np.maximum(0, k + np.minimum((u * (2 * j + 1)).astype(np.int64), 2 * j) - j)
        self.fresh[agent][ids] = False
        return h[ids, (head - k) % self.size]


class QuantizeParams(LayerParams):
    step: float = Field(gt=0, description="Readings are rounded to multiples of this step.")


class ObsQuantize(_ObsLayer):
    """Quantizes readings to a fixed resolution, like an ADC."""

    type = "obs_quantize"
    Params = QuantizeParams

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            q = np.round(x / self.p.step) * self.p.step
        # A step finer than the readings' resolution (x / step overflows the readings' type): the reading as it is.
        q = np.where(np.isfinite(q) | ~np.isfinite(x), q, x)
        return q.astype(self.dtype[agent], copy=False)


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
        self.reserve_draws((self.p.dims,))
        self.walk = {a: zeros((self.n, self.p.dims), np.float64, self.type) for a in self.agents}

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        if agent not in self.agents:
            return space
        return spaces.Box(-np.inf, np.inf, (space.shape[0] + self.p.dims,), space.dtype)

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.walk[a][ids] = 0.0

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        z = self.p.std * self.draws(agent, ids, (self.p.dims,))
        if self.p.kind == "random_walk":
            z = self.walk[agent][ids] + z
            self.walk[agent][ids] = z
        return np.concatenate([x, z], axis=1).astype(self.dtype[agent], copy=False)


class GoalFlattenParams(LayerParams):
    pass


class GoalFlatten(Layer):
    """Turns a goal-conditioned Dict observation into one flat vector for learners that need one:
    the keys concatenated in the Dict's order, as ``gymnasium.spaces.flatten`` does
    (``scenarios.goals.flatten``). Put it last: layers after it would see the goals too."""

    type = "goal_flatten"
    Params = GoalFlattenParams
    whole_observation = True

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        from scenarios.errors import UserError
        from scenarios.goals import is_goal_space

        self.space = {a: scenario.observation_space(a) for a in self.agents}
        for a, s in self.space.items():
            if not is_goal_space(s):
                raise UserError(f"layer {self.type} needs goal-conditioned Dict observations; {scenario.id} {a} has {s}")

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        from scenarios.goals import flatten_space

        return flatten_space(space) if agent in self.agents else space

    def observe(self, agent: str, x: Any, ids: np.ndarray) -> np.ndarray:
        from scenarios.goals import flatten

        return flatten(self.space[agent], x)


LAYERS = (ObsGaussianNoise, ObsUniformNoise, ObsBias, ObsDrift, ObsDropout, ObsStuck, ObsDelay, ObsQuantize, ObsDistractors, GoalFlatten)
