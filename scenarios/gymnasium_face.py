"""Gymnasium face: a one-agent scenario as a ``gymnasium.Env`` (a thin adapter)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from scenarios.errors import UserError
from scenarios.scenario import Scenario


class GymnasiumFace(gym.Env):
    """A ``gymnasium.Env`` over a one-agent Scenario; passes ``check_env``.

    >>> import scenarios
    >>> env = scenarios.make("classic/CartPole-v1").as_gymnasium()
    >>> obs, info = env.reset(seed=0)
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, scenario: Scenario) -> None:
        if scenario.num_agents != 1:
            raise UserError(
                f"{scenario.id} has {scenario.num_agents} agents ({', '.join(scenario.possible_agents)}); "
                "as_gymnasium() needs a one-agent scenario: use as_pettingzoo()"
            )
        self.scenario = scenario
        self.agent = scenario.possible_agents[0]
        self.observation_space = scenario.observation_space(self.agent)
        self.action_space = scenario.action_space(self.agent)
        self.metadata = {**GymnasiumFace.metadata, **getattr(scenario.source, "env", scenario.source).metadata,
                         "render_modes": scenario.render_modes}
        self.render_mode = scenario.render_mode
        if scenario.id in gym.registry:  # the registered id's EnvSpec, where this is that scenario as registered
            from scenarios.registry import get_spec

            if get_spec(scenario.id) == scenario.spec:
                self.spec = gym.spec(scenario.id)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Reset the scenario; ``seed`` seeds both it and this env's ``np_random``."""
        super().reset(seed=seed)
        obs, infos = self.scenario.reset(seed=seed, options=options)
        return obs[self.agent], infos[self.agent]

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Step the scenario with the single agent's action."""
        obs, rew, term, trunc, infos = self.scenario.step({self.agent: action})
        a = self.agent
        return obs[a], rew[a], term[a], trunc[a], infos[a]

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """The goal-conditioned reward of the scenario's source, batched (what SB3's ``HerReplayBuffer``
        calls through ``env_method``)."""
        return self.scenario.compute_reward(achieved_goal, desired_goal, info)

    def render(self) -> Any:
        """The scenario's frame in its ``render_mode`` (``rgb_array``: an (H, W, 3) uint8 array)."""
        return self.scenario.render()

    def close(self) -> None:
        """Close the scenario."""
        self.scenario.close()
