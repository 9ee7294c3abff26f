"""The adapter protocol for a "real" system: a robot, an external simulator, or a proxy scenario.

A ``RealSystem`` has the spaces of the scenario a policy was trained on and
steps one episode at a time (real robots do not vectorize)::

    class MyRobot:
        observation_space: gymnasium.Space       # same as the training scenario's agent_0
        action_space: gymnasium.Space
        def reset(self, seed: int | None = None) -> np.ndarray: ...
        def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]: ...
        def close(self) -> None: ...

``ScenarioSystem`` wraps a scenario (e.g. ``sim2real/Hopper-real-v0``) in that
protocol. ``record`` runs a policy on any ``RealSystem`` and keeps the
trajectories (observations incl. final, actions, rewards, flags) in the
demonstration dataset format (``agents.imitation.dataset``), which system
identification reads.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from agents.imitation.dataset import Dataset
from scenarios import Scenario, UserError
from scenarios import make as make_scenario

AGENT = "agent_0"


@runtime_checkable
class RealSystem(Protocol):
    """What a real robot or external simulator implements to be evaluated and identified."""

    observation_space: gym.Space
    action_space: gym.Space

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start an episode; returns the first observation."""

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Apply one action; returns observation, reward, terminated, truncated, info."""

    def close(self) -> None:
        """Release the system."""


class ScenarioSystem:
    """A single-agent scenario seen through the ``RealSystem`` protocol."""

    def __init__(self, scenario: Scenario | str | dict) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else make_scenario(scenario)
        if self.scenario.num_agents != 1:
            raise UserError(f"a RealSystem is single-agent; {self.scenario.id} has {self.scenario.num_agents} agents")
        self.observation_space = self.scenario.observation_space(AGENT)
        self.action_space = self.scenario.action_space(AGENT)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset the scenario."""
        obs, _ = self.scenario.reset(seed=seed)
        return obs[AGENT]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Step the scenario."""
        obs, rew, term, trunc, info = self.scenario.step({AGENT: action})
        return obs[AGENT], float(rew[AGENT]), bool(term[AGENT]), bool(trunc[AGENT]), info.get(AGENT, {})

    def close(self) -> None:
        """Close the scenario."""
        self.scenario.close()


def check_spaces(system: RealSystem, scenario: Scenario) -> None:
    """Refuse a system whose spaces differ from the training scenario's."""
    for kind, mine, theirs in (("observation", scenario.observation_space(AGENT), system.observation_space),
                               ("action", scenario.action_space(AGENT), system.action_space)):
        if tuple(mine.shape or ()) != tuple(theirs.shape or ()):
            raise UserError(f"the system's {kind} space {theirs} does not match {scenario.id}'s {mine}")


def record(system: RealSystem, policy: Any, episodes: int, seed: int = 0, deterministic: bool = True,
           spec: dict | None = None) -> Dataset:
    """Run ``policy`` (any agent: ``act`` on batched observations) on ``system`` for ``episodes`` episodes."""
    if not isinstance(system, RealSystem):
        raise UserError(f"{type(system).__name__} does not implement the RealSystem protocol (reset, step, close, spaces)")
    obs_l, act_l, rew_l, term_l, trunc_l, lengths, returns = [], [], [], [], [], [], []
    for k in range(episodes):
        o = system.reset(seed=seed + k)
        obs_l.append(np.asarray(o))
        done, total, t = False, 0.0, 0
        while not done:
            a = policy.act({AGENT: np.asarray(o)[None]}, deterministic=deterministic)[AGENT][0]
            o, r, term, trunc, _ = system.step(a)
            obs_l.append(np.asarray(o))
            act_l.append(np.asarray(a))
            rew_l.append(r)
            term_l.append(term)
            trunc_l.append(trunc)
            total += r
            t += 1
            done = term or trunc
        lengths.append(t)
        returns.append({AGENT: total})
    arr = lambda x, dtype=None: {AGENT: np.asarray(x, dtype=dtype)}  # noqa: E731
    return Dataset(spec=spec or {"id": getattr(getattr(system, "scenario", None), "id", "external")}, agents=[AGENT],
                   obs=arr(obs_l), actions=arr(act_l), rewards=arr(rew_l, np.float64), terminations=arr(term_l, bool),
                   truncations=arr(trunc_l, bool), episode_lengths=np.array(lengths), episode_seeds=seed + np.arange(episodes),
                   expert={"agent": getattr(policy, "name", "policy"), "mean_return": float(np.mean([r[AGENT] for r in returns]))},
                   returns=returns)
