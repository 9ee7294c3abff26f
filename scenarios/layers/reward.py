"""Reward layers: noise and delay.

YAML examples::

    - {type: reward_noise, params: {std: 0.1}}
    - {type: reward_delay, params: {steps: 10}}   # withheld rewards are paid at the episode's end
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import Field

from scenarios.layers.base import Layer, LayerParams


class RewardNoiseParams(LayerParams):
    std: float = Field(ge=0, description="Std of N(0, std^2) added to each reward.")


class RewardNoise(Layer):
    """Adds gaussian noise to every reward."""

    type = "reward_noise"
    Params = RewardNoiseParams

    def reward(self, agent: str, r: float, done: bool) -> float:
        return r + self.p.std * float(self.noise(agent, ()))


class RewardDelayParams(LayerParams):
    steps: int = Field(ge=0, description="Each reward arrives this many steps later.")
    flush_at_end: bool = Field(default=True, description="Pay rewards still withheld on the last step (return kept).")


class RewardDelay(Layer):
    """Delays rewards by k steps; by default the last step pays what is still withheld."""

    type = "reward_delay"
    Params = RewardDelayParams

    def start_episode(self) -> dict[str, Any]:
        self.queue = {a: deque([0.0] * self.p.steps) for a in self.agents}
        return {}

    def reward(self, agent: str, r: float, done: bool) -> float:
        q = self.queue[agent]
        q.append(r)
        out = q.popleft()
        if done and self.p.flush_at_end:
            out += sum(q)
            q.clear()
        return out


LAYERS = (RewardNoise, RewardDelay)
