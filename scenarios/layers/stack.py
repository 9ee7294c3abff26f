"""A scenario's layer stack over N copies: binding in spec order, then the hooks, batch-first.

Both faces drive the same stack: ``Scenario`` is one copy (``ids = [0]``),
``BatchVectorScenario`` is N simulations (``ids`` = the copies stepped or
reset). The stack calls each hook only on the layers that define it, in spec
order, for the agents each layer targets, with the copies first in every array.

Goal-conditioned observations (``scenarios.goals``): a layer binds to, and
transforms, the ``observation`` key only, since goals are not sensed; the
stack rebuilds the Dict around the space the layer leaves. A layer that sets
``whole_observation = True`` (``goal_flatten``) sees the whole Dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from scenarios.errors import UserError
from scenarios.goals import is_goal_space
from scenarios.layers.base import HOOKS, Layer


def _on_observation_key(fn: Any) -> Any:
    """A layer's ``observe`` applied to the ``observation`` key of goal-conditioned batches."""

    def observe(agent: str, x: dict[str, np.ndarray], ids: np.ndarray) -> dict[str, np.ndarray]:
        return {**x, "observation": fn(agent, x["observation"], ids)}

    return observe


def _one(x: Any) -> Any:
    """One copy's value as a batch of one (each key of a dict), a view where it can be."""
    if isinstance(x, dict):
        return {k: _one(v) for k, v in x.items()}
    return x[None] if isinstance(x, np.ndarray) else np.asarray(x)[None]


def _first(y: Any) -> Any:
    if isinstance(y, dict):
        return {k: _first(v) for k, v in y.items()}
    return y[0]


class LayerStack:
    """Bound layers of ``n`` copies and the order their hooks run in.

    ``context`` is what a layer binds to: a ``Scenario`` or a batch's context,
    with ``id``, ``spec``, ``possible_agents``, ``num_copies``, ``physics`` and
    ``observation_space(agent)`` reading ``obs_spaces`` (updated here as each
    layer binds, so a layer sees the spaces the layers before it leave).
    """

    def __init__(self, layers: Sequence[Layer], context: Any, obs_spaces: dict[str, spaces.Space]) -> None:
        self.layers: list[Layer] = []
        on_key: dict[int, set[str]] = {}  # layer position -> agents whose observation key it perturbs
        for layer in layers:
            goal = {} if getattr(layer, "whole_observation", False) else {
                a: s for a, s in obs_spaces.items() if is_goal_space(s)}
            for a, s in goal.items():
                obs_spaces[a] = s["observation"]
            try:
                layer.bind(context)
            except MemoryError as exc:  # past require_memory's check, where the memory free now is less than the machine's
                raise UserError(f"layer {layer.type}: its per-copy state does not fit in the memory free now ({exc}); "
                                "lower its parameters (or the number of copies)") from None
            on_key[len(self.layers)] = set(goal)
            self.layers.append(layer)
            for a in list(obs_spaces):
                obs_spaces[a] = layer.observation_space(a, obs_spaces[a])
            for a, s in goal.items():
                obs_spaces[a] = spaces.Dict({k: (obs_spaces[a] if k == "observation" else v) for k, v in s.spaces.items()})
        self.n = int(getattr(context, "num_copies", 1))
        self.hooks = {h: [x for x in self.layers if h in x.hooks()] for h in HOOKS}
        self.has_cost = any(x.type == "safety_cost" for x in self.layers)
        self._calls = {h: [(getattr(x, h), x.agents) for x in self.hooks[h]] for h in ("act", "reward")}
        self._calls["observe"] = []
        for k, x in enumerate(self.layers):
            if "observe" in x.hooks():
                keyed = [a for a in x.agents if a in on_key[k]]
                whole = [a for a in x.agents if a not in on_key[k]]
                if whole:
                    self._calls["observe"].append((x.observe, whole))
                if keyed:
                    self._calls["observe"].append((_on_observation_key(x.observe), keyed))

    def __bool__(self) -> bool:
        return bool(self.layers)

    def seed(self, ids: np.ndarray, seeds: Sequence[int | None]) -> None:
        """Reseed these copies' generators from their reset seeds (None: continue each stream)."""
        for k, layer in enumerate(self.layers):
            layer.seed(ids, seeds, k)

    def before_reset(self, ids: np.ndarray) -> None:
        """Physics draws that must precede the source's reset of these copies."""
        for layer in self.hooks["before_reset"]:
            layer.before_reset(ids)

    def start_episode(self, ids: np.ndarray) -> list[dict[str, Any]]:
        """Per-episode state after the source reset; the values each copy sampled."""
        report: list[dict[str, Any]] = [{} for _ in range(len(ids))]
        for layer in self.hooks["start_episode"]:
            layer.start_episode(ids, report)
        return report

    def before_step(self, ids: np.ndarray, t: np.ndarray) -> list[dict[str, Any]] | None:
        """Schedules, forces and interval physics before step ``t[j]`` of copy ``ids[j]``; values to report."""
        if not self.hooks["before_step"]:
            return None
        report: list[dict[str, Any]] = [{} for _ in range(len(ids))]
        for layer in self.hooks["before_step"]:
            layer.before_step(ids, t, report)
        return report

    def _each(self, hook: str, values: dict[str, Any], ids: np.ndarray, single: bool,
              done: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        """Run a per-agent hook of every layer that has it, in order, on ``values`` (in place).

        ``single``: each value is one copy's (the single-copy face) and goes through the hook as a
        batch of one; a view, so no per-step dict of batches is built."""
        for fn, agents in self._calls[hook]:
            for a in agents:
                if a in values:
                    x = values[a]
                    if single:
                        x = x[None] if isinstance(x, np.ndarray) else _one(x)
                    y = fn(a, x, ids) if done is None else fn(a, x, done[a], ids)
                    if single:
                        y = y[0] if isinstance(y, np.ndarray) else _first(y)
                    values[a] = y
        return values

    def act(self, actions: dict[str, Any], ids: np.ndarray, single: bool = False) -> dict[str, Any]:
        """Transform each agent's actions (rows: these copies; or one copy's values if ``single``)."""
        return self._each("act", actions, ids, single)

    def after_step(self, ids: np.ndarray, t: np.ndarray, infos: list[dict[str, dict]]) -> None:
        """After the source's step: layers that read the physics (safety cost) or remove forces."""
        for layer in self.hooks["after_step"]:
            layer.after_step(ids, t, infos)

    def observe(self, obs: dict[str, Any], ids: np.ndarray, single: bool = False) -> dict[str, Any]:
        """Transform each agent's observations (rows: these copies; or one copy's values if ``single``)."""
        return self._each("observe", obs, ids, single)

    def reward(self, rewards: dict[str, Any], done: dict[str, np.ndarray], ids: np.ndarray,
               single: bool = False) -> dict[str, Any]:
        """Transform each agent's rewards (``done``: its episode ends this step)."""
        return self._each("reward", rewards, ids, single, done)
