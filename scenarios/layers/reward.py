"""Reward layers: noise and delay.

YAML examples::

    - {type: reward_noise, params: {std: 0.1}}
    - {type: reward_delay, params: {steps: 10}}   # withheld rewards are paid at the episode's end
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from scenarios.layers.base import Layer, LayerParams


class RewardNoiseParams(LayerParams):
    std: float = Field(ge=0, description="Std of N(0, std^2) added to each reward.")


class RewardNoise(Layer):
    """Adds gaussian noise to every reward."""

    type = "reward_noise"
    Params = RewardNoiseParams

    def reward(self, agent: str, r: np.ndarray, done: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return r + self.p.std * self.draws(agent, ids)


class RewardDelayParams(LayerParams):
    steps: int = Field(ge=0, description="Each reward arrives this many steps later.")
    flush_at_end: bool = Field(default=True, description="Pay rewards still withheld on the last step (return kept).")


class RewardDelay(Layer):
    """Delays rewards by k steps; by default the last step pays what is still withheld."""

    type = "reward_delay"
    Params = RewardDelayParams

    def bind(self, scenario: Any) -> None:
        super().bind(scenario)
        self.queue = {a: np.zeros((self.n, self.p.steps)) for a in self.agents}
        self.head = {a: np.zeros(self.n, np.int64) for a in self.agents}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.queue[a][ids] = 0.0
            self.head[a][ids] = 0

    def reward(self, agent: str, r: np.ndarray, done: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if self.p.steps == 0:
            return r
        q, head = self.queue[agent], self.head[agent][ids]
        out = q[ids, head]
        q[ids, head] = r
        self.head[agent][ids] = (head + 1) % self.p.steps
        if self.p.flush_at_end and done.any():
            ended = ids[done]
            out = out.copy()
            out[done] += q[ended].sum(axis=1)
            q[ended] = 0.0
        return out


LAYERS = (RewardNoise, RewardDelay)
