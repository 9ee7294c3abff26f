"""Reward layers: noise and delay.

YAML examples::

    - {type: reward_noise, params: {std: 0.1}}
    - {type: reward_delay, params: {steps: 10}}   # withheld rewards are paid at the episode's end
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from scenarios.layers.base import DelayLine, Layer, LayerParams


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
        self.queue = {a: DelayLine(self.n, self.p.steps, (), np.float64, self.type) for a in self.agents}

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        for a in self.agents:
            self.queue[a].fill(ids, 0.0)

    def reward(self, agent: str, r: np.ndarray, done: np.ndarray, ids: np.ndarray) -> np.ndarray:
        q = self.queue[agent]
        out = q.swap(ids, r)
        if q.steps and self.p.flush_at_end and done.any():  # pay what is still withheld
            ended = ids[done]
            out = out.copy()
            out[done] += q.buf[ended].sum(axis=1)
            q.buf[ended] = 0.0
        return out


LAYERS = (RewardNoise, RewardDelay)
