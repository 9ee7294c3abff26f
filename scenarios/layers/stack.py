"""A scenario's layer stack over N copies: binding in spec order, then the hooks, batch-first.

Both faces drive the same stack: ``Scenario`` is one copy (``ids = [0]``),
``BatchVectorScenario`` is N simulations (``ids`` = the copies stepped or
reset). The stack calls each hook only on the layers that define it, in spec
order, for the agents each layer targets, with the copies first in every array.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from scenarios.layers.base import HOOKS, Layer


class LayerStack:
    """Bound layers of ``n`` copies and the order their hooks run in.

    ``context`` is what a layer binds to: a ``Scenario`` or a batch's context,
    with ``id``, ``spec``, ``possible_agents``, ``num_copies``, ``physics`` and
    ``observation_space(agent)`` reading ``obs_spaces`` (updated here as each
    layer binds, so a layer sees the spaces the layers before it leave).
    """

    def __init__(self, layers: Sequence[Layer], context: Any, obs_spaces: dict[str, spaces.Space]) -> None:
        self.layers: list[Layer] = []
        for layer in layers:
            layer.bind(context)
            self.layers.append(layer)
            for a in list(obs_spaces):
                obs_spaces[a] = layer.observation_space(a, obs_spaces[a])
        self.n = int(getattr(context, "num_copies", 1))
        self.hooks = {h: [x for x in self.layers if h in x.hooks()] for h in HOOKS}
        self.has_cost = any(x.type == "safety_cost" for x in self.layers)
        self._calls = {h: [(getattr(x, h), x.agents) for x in self.hooks[h]] for h in ("act", "observe", "reward")}

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
                        x = x[None] if isinstance(x, np.ndarray) else np.asarray(x)[None]
                    y = fn(a, x, ids) if done is None else fn(a, x, done[a], ids)
                    values[a] = y[0] if single else y
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
