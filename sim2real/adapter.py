"""The adapter protocol for a "real" system: a robot, an external simulator, or a proxy scenario.

A ``RealSystem`` has the spaces of the scenario a policy was trained on and
steps one episode at a time (real robots do not vectorize)::

    class MyRobot:
        observation_space: gymnasium.Space       # same as the training scenario's agent_0
        action_space: gymnasium.Space
        def reset(self, seed: int | None = None) -> np.ndarray: ...
        def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]: ...
        def close(self) -> None: ...
        def state(self) -> np.ndarray | None: ...  # optional: the full simulator state, if there is one

A system that can say its full simulator state (an external MuJoCo simulator,
a proxy scenario) implements ``state()``: the state after the last ``reset`` or
``step`` as MuJoCo's ``mjSTATE_INTEGRATION`` vector (``mj_getState``: time,
qpos, qvel, act, warm start, controls, applied forces, ...). ``record`` keeps it
beside every observation, and ``sim2real.sysid`` then replays each transition
from the exact state instead of reconstructing it from the observation. A real
robot, whose observation is all there is, leaves the method out.

``ScenarioSystem`` wraps a scenario (e.g. ``sim2real/Hopper-real-v0``) in that
protocol. ``record`` runs a policy on any ``RealSystem`` and keeps the
trajectories (observations incl. final, actions, rewards, flags) in the
demonstration dataset format (``agents.imitation.dataset``), which system
identification reads.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import mujoco
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


STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
"""The layout of ``RealSystem.state()``: MuJoCo's full integration state."""


class ScenarioSystem:
    """A single-agent scenario seen through the ``RealSystem`` protocol.

    ``expose_state`` (default True): ``state()`` returns the MuJoCo state of the
    scenario's simulator (None for other sources); False hides it, so the
    scenario stands in for a robot whose observation is all there is.
    """

    def __init__(self, scenario: Scenario | str | dict, expose_state: bool = True) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else make_scenario(scenario)
        self.expose_state = expose_state
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

    def state(self) -> np.ndarray | None:
        """The simulator's full state (``STATE_SPEC``), or None (not MuJoCo, or ``expose_state`` False)."""
        env = self.scenario.unwrapped
        if not self.expose_state or not isinstance(getattr(env, "model", None), mujoco.MjModel):
            return None
        out = np.empty(mujoco.mj_stateSize(env.model, STATE_SPEC))
        mujoco.mj_getState(env.model, env.data, out, STATE_SPEC)
        return out


def check_spaces(system: RealSystem, scenario: Scenario) -> None:
    """Refuse a system whose spaces differ from the training scenario's."""
    for kind, mine, theirs in (("observation", scenario.observation_space(AGENT), system.observation_space),
                               ("action", scenario.action_space(AGENT), system.action_space)):
        if tuple(mine.shape or ()) != tuple(theirs.shape or ()):
            raise UserError(f"the system's {kind} space {theirs} does not match {scenario.id}'s {mine}")


def record(system: RealSystem, policy: Any, episodes: int, seed: int = 0, deterministic: bool = True,
           spec: dict | None = None) -> Dataset:
    """Run ``policy`` (any agent: ``act`` on batched observations) on ``system`` for ``episodes`` episodes.

    Where the system has a ``state()`` that returns an array, the dataset keeps
    the state beside every observation (``Dataset.states``).
    """
    if not isinstance(system, RealSystem):
        raise UserError(f"{type(system).__name__} does not implement the RealSystem protocol (reset, step, close, spaces)")
    if episodes < 1:
        raise UserError(f"episodes must be at least 1 (got {episodes})")
    get_state = getattr(system, "state", None)
    obs_l, act_l, rew_l, term_l, trunc_l, lengths, returns = [], [], [], [], [], [], []
    states: list[np.ndarray | None] = []
    for k in range(episodes):
        o = system.reset(seed=seed + k)
        obs_l.append(np.asarray(o))
        states.append(get_state() if get_state else None)
        done, total, t = False, 0.0, 0
        while not done:
            a = policy.act({AGENT: np.asarray(o)[None]}, deterministic=deterministic)[AGENT][0]
            o, r, term, trunc, _ = system.step(a)
            obs_l.append(np.asarray(o))
            states.append(get_state() if get_state else None)
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
    kept = {AGENT: np.asarray(states, np.float64)} if all(x is not None for x in states) else {}
    return Dataset(spec=spec or {"id": getattr(getattr(system, "scenario", None), "id", "external")}, agents=[AGENT],
                   obs=arr(obs_l), actions=arr(act_l), rewards=arr(rew_l, np.float64), terminations=arr(term_l, bool),
                   truncations=arr(trunc_l, bool), episode_lengths=np.array(lengths), episode_seeds=seed + np.arange(episodes),
                   expert={"agent": getattr(policy, "name", "policy"), "mean_return": float(np.mean([r[AGENT] for r in returns]))},
                   returns=returns, states=kept)
