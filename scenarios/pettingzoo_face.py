"""PettingZoo face: any scenario as a ``pettingzoo.ParallelEnv`` (a thin adapter), and
``parallel_env(id, **kwargs)``, PettingZoo's constructor shape, for scripts written for it."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from pettingzoo import ParallelEnv

from scenarios.scenario import Scenario


def parallel_env(scenario_id: str, **kwargs: Any) -> PettingZooFace:
    """A scenario as a PettingZoo ``ParallelEnv``, as ``mpe2.simple_spread_v3.parallel_env()`` is;
    ``kwargs`` are overrides (source kwargs such as ``render_mode`` or ``N``, spec fields).

    >>> import scenarios
    >>> env = scenarios.parallel_env("mpe/simple_spread-v3", N=2)
    >>> env.possible_agents
    ['agent_0', 'agent_1']
    """
    from scenarios.registry import make

    return make(scenario_id, **kwargs).as_pettingzoo()


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
        self.metadata = {"name": scenario.id, "render_modes": scenario.render_modes, "is_parallelizable": True}
        self.possible_agents = list(scenario.possible_agents)
        self.render_mode = scenario.render_mode
        self.observation_spaces = {a: scenario.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: scenario.action_space(a) for a in self.possible_agents}
        space = getattr(scenario.source, "state_space", None)
        if space is not None:
            self.state_space = space

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

    def render(self) -> Any:
        """The scenario's rendering in its ``render_mode``."""
        return self.scenario.render()

    def close(self) -> None:
        """Close the scenario."""
        self.scenario.close()
