"""PettingZoo face: any scenario as a ``pettingzoo.ParallelEnv`` (a thin adapter)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from pettingzoo import ParallelEnv

from scenarios.scenario import Scenario


class PettingZooFace(ParallelEnv):
    """A PettingZoo ParallelEnv over a Scenario; passes ``parallel_api_test``.

    >>> import scenarios
    >>> env = scenarios.make("mpe/simple_spread-v3").as_pettingzoo()
    >>> obs, infos = env.reset(seed=0)
    >>> sorted(obs)
    ['agent_0', 'agent_1', 'agent_2']
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.metadata = {"name": scenario.id, "render_modes": [], "is_parallelizable": True}
        self.possible_agents = list(scenario.possible_agents)
        self.render_mode = None

    @property
    def agents(self) -> list[str]:  # type: ignore[override]
        """Agents live in the current episode."""
        return list(self.scenario.agents)

    def observation_space(self, agent: str) -> gym.Space:
        """The observation space of ``agent``."""
        return self.scenario.observation_space(agent)

    def action_space(self, agent: str) -> gym.Space:
        """The action space of ``agent``."""
        return self.scenario.action_space(agent)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Reset the scenario."""
        return self.scenario.reset(seed=seed, options=options)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the scenario."""
        return self.scenario.step(actions)

    def state(self) -> Any:
        """The source's global state, where it provides one."""
        return self.scenario.source.state()

    def close(self) -> None:
        """Close the scenario."""
        self.scenario.close()
