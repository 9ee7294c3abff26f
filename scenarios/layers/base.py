"""The layer base: one batch-first object, a few optional hooks, one generator per copy.

A layer runs ``n`` copies of a scenario at once (``n = 1`` on the single-copy
face: the same code). Every hook takes ``ids``, the copies it acts on (an int
array), and arrays with those copies first. A layer overrides only the hooks
it needs; the stack (``scenarios.layers.stack``) calls each hook only on the
layers that define it, in the order the spec lists them:

- ``bind(scenario)``: check it applies (spaces, model names), snapshot nominals,
  allocate per-copy state for ``scenario.num_copies`` copies;
- ``observation_space(agent, space)``: the space after this layer;
- ``before_reset(ids)``: physics changes that must precede the source's reset;
- ``start_episode(ids, report)``: per-episode state and draws; writes the values
  sampled for copy ``ids[j]`` into ``report[j]``;
- each step, in this order: ``before_step(ids, t, report)`` (``t[j]``: the
  1-based step of copy ``ids[j]``; schedules, forces, interval physics),
  ``act(agent, A, ids)``, the source's step, ``after_step(ids, t, infos)``
  (``infos[j]``: copy ``ids[j]``'s per-agent info dicts), ``observe(agent, X,
  ids)``, ``reward(agent, R, done, ids)``.

Timing (startup/reset/interval, schedules) lives in the layer: no backend reads
a layer's state. Per-agent hooks run for ``self.agents`` only (all agents unless
the spec says otherwise). Every random draw of copy ``i`` comes from its own
generator (``self.streams``), reseeded from that copy's episode reset seed, so
an episode is reproducible from its seed whatever N is and whichever other
copies reset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from gymnasium import spaces
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenarios.errors import UserError
from scenarios.layers.schedules import Schedule, ScheduledValue
from scenarios.layers.streams import BLOCK, CopyStreams

if TYPE_CHECKING:
    from scenarios.scenario import Scenario

HOOKS = ("before_reset", "start_episode", "observe", "act", "reward", "before_step", "after_step")


class LayerParams(BaseModel):
    """Base of every layer's typed parameters (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Layer:
    """Base of all layers: parameters, target agents, per-copy generators, and no-op hooks."""

    type: ClassVar[str]
    Params: ClassVar[type[LayerParams]]

    def __init__(self, params: LayerParams, agents: list[str] | None = None) -> None:
        self.p = params
        self.agent_filter = agents
        self.agents: list[str] = []
        self.n = 1
        self.streams = CopyStreams(1)

    # -- set-up ------------------------------------------------------------
    def bind(self, scenario: Scenario) -> None:
        """Attach to a scenario (or a batch's context): resolve target agents, size per-copy state."""
        if self.agent_filter is None:
            self.agents = list(scenario.possible_agents)
        else:
            unknown = [a for a in self.agent_filter if a not in scenario.possible_agents]
            if unknown:
                raise UserError(
                    f"layer {self.type}: unknown agent(s) {unknown} in {scenario.id} (valid: {', '.join(scenario.possible_agents)})"
                )
            self.agents = list(self.agent_filter)
        self.n = int(getattr(scenario, "num_copies", 1))
        self.streams = CopyStreams(self.n)

    def observation_space(self, agent: str, space: spaces.Space) -> spaces.Space:
        """The observation space after this layer (unchanged by default)."""
        return space

    def seed(self, ids: Sequence[int] | np.ndarray, seeds: Sequence[int | None], index: int) -> None:
        """Reseed copies from their reset seeds and this layer's position (None: keep the stream)."""
        self.streams.seed(ids, seeds, index)

    def rng(self, i: int) -> np.random.Generator:
        """Copy ``i``'s generator (for per-episode draws)."""
        return self.streams.rngs[i]

    def draws(self, key: Any, ids: np.ndarray, shape: tuple[int, ...] = (), kind: str = "normal",
              scale: float = 1.0, dtype: Any = np.float64) -> np.ndarray:
        """The next pre-drawn standard draw of ``shape`` per copy for ``key``: ``(len(ids), *shape)``."""
        return self.streams.draws(key, ids, shape, kind, scale, dtype)

    def reserve_draws(self, shape: tuple[int, ...], dtype: Any = np.float64) -> None:
        """Refuse now, in one line, per-step draws of ``shape`` whose pre-drawn blocks (``BLOCK`` draws per copy,
        allocated at the first draw) would not fit in memory (``require_memory``)."""
        require_memory((self.n, BLOCK, *shape), dtype, self.type)

    def hooks(self) -> set[str]:
        """The hooks this layer needs called: by default those its class overrides."""
        return {h for h in HOOKS if getattr(type(self), h) is not getattr(Layer, h)}

    # -- hooks (override what the layer needs) -----------------------------
    def before_reset(self, ids: np.ndarray) -> None:
        """Before the source resets these copies (physics sampling)."""

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        """After the source resets: per-episode state; write the values sampled into ``report[j]``."""

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Transform one agent's observations ``(len(ids), ...)``."""
        return x

    def act(self, agent: str, a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Transform one agent's actions ``(len(ids), ...)`` before the source sees them."""
        return a

    def reward(self, agent: str, r: np.ndarray, done: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Transform one agent's rewards ``(len(ids),)`` (``done[j]``: its episode ends this step)."""
        return r

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        """Before source step ``t[j]`` (1-based) of each copy; may write values to report into ``report[j]``."""

    def after_step(self, ids: np.ndarray, t: np.ndarray, infos: list[dict[str, dict]]) -> None:
        """After the source's step, before per-agent transforms; may write ``infos[j][agent]``."""


def physical_memory() -> float:
    """This machine's physical memory in bytes (infinite where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def require_memory(shape: tuple[int, ...], dtype: Any, owner: str) -> None:
    """Refuse, in one line, per-copy state of ``shape`` that would not fit in this machine's memory.

    A layer's state grows with its parameters (a delay of 10^9 steps, 10^9 distractor dimensions) and the
    number of copies: numpy's MemoryError was a traceback, and an allocation the kernel over-commits fails
    only later, mid-run. Checked when the layer binds, before anything is allocated."""
    nbytes = math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize
    memory = physical_memory()
    if nbytes > memory:
        raise UserError(f"layer {owner}: its state of shape {tuple(int(d) for d in shape)} ({np.dtype(dtype).name}) needs "
                        f"{nbytes / 2**30:.3g} GiB, more than this machine's {memory / 2**30:.3g} GiB of memory; lower "
                        "its parameters (or the number of copies)")


def zeros(shape: tuple[int, ...], dtype: Any, owner: str) -> np.ndarray:
    """``np.zeros(shape, dtype)`` after ``require_memory``: per-copy layer state."""
    require_memory(shape, dtype, owner)
    return np.zeros(shape, dtype)


def per_copy(values: np.ndarray, ndim: int) -> np.ndarray:
    """Per-copy values ``(len(ids),)`` shaped to broadcast against ``(len(ids), *shape)`` with ``ndim`` dims in shape."""
    return values.reshape((-1,) + (1,) * ndim)


class DelayLine:
    """Per-copy FIFO of ``steps`` values: ``swap`` stores each copy's new value and returns the one stored
    ``steps`` calls earlier (``steps = 0`` passes values through)."""

    def __init__(self, n: int, steps: int, shape: tuple[int, ...], dtype: Any, owner: str) -> None:
        self.steps = steps
        self.buf = zeros((n, steps, *shape), dtype, owner)
        self.head = np.zeros(n, np.int64)  # slot of the oldest value, per copy

    def fill(self, ids: np.ndarray, value: Any) -> None:
        """Start these copies' queues full of ``value``."""
        self.buf[ids] = value
        self.head[ids] = 0

    def swap(self, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Push ``x[j]`` for copy ``ids[j]``; returns the values pushed ``steps`` swaps earlier."""
        if self.steps == 0:
            return x
        head = self.head[ids]
        out = self.buf[ids, head]
        self.buf[ids, head] = x
        self.head[ids] = (head + 1) % self.steps
        return out


class StdParams(LayerParams):
    """A noise standard deviation, constant or scheduled."""

    std: float | Schedule = Field(description="Std of N(0, std^2) per dimension (or a schedule of it).")

    @model_validator(mode="after")
    def _positive(self) -> StdParams:
        lowest = self.std.lowest() if isinstance(self.std, Schedule) else self.std
        if lowest < 0:
            raise ValueError(f"std must be >= 0 (got {self.std if isinstance(self.std, float) else f'a schedule reaching {lowest}'})")
        return self


class GaussianDraws:
    """Per-agent N(0, std^2) draws for a layer, per copy: pre-scaled blocks when std is constant
    (one addition a step), scaled per copy and step when it follows a schedule."""

    def __init__(self, layer: Layer, std: float | Schedule, shapes: dict[str, tuple[tuple[int, ...], Any]]) -> None:
        self.layer, self.shapes = layer, shapes
        self.std = ScheduledValue(std, layer.n)
        self.scheduled = isinstance(std, Schedule)
        self.scale = 1.0 if self.scheduled else float(std)
        self._draws = layer.streams.draws

    def unused_hooks(self) -> set[str]:
        """Hooks the owning layer can skip (the std never changes)."""
        return set() if self.scheduled else {"before_step", "start_episode"}

    def next(self, agent: str, ids: np.ndarray) -> np.ndarray:
        """The next draws for ``agent``'s copies ``ids``, in its dtype."""
        shape, dtype = self.shapes[agent]
        if not self.scheduled:
            return self._draws(agent, ids, shape, "normal", self.scale, dtype)
        z = self._draws(agent, ids, shape)
        return (per_copy(self.std.value[ids], len(shape)) * z).astype(dtype)


def require_box(layer: Layer, scenario: Scenario, kind: str) -> None:
    """Refuse a layer whose target agents' observation or action spaces are not float Boxes."""
    for a in layer.agents:
        space = scenario.observation_space(a) if kind == "observation" else scenario.action_space(a)
        if not isinstance(space, spaces.Box) or not np.issubdtype(space.dtype, np.floating):
            raise UserError(
                f"layer {layer.type} needs continuous (float Box) {kind}s, but {scenario.id} {a} has {space}"
            )


def unbounded(space: spaces.Box) -> spaces.Box:
    """The same Box with infinite bounds (noise and bias can leave the source's range)."""
    return spaces.Box(-np.inf, np.inf, space.shape, space.dtype)
