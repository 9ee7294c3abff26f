"""Our vectorized face as a Stable-Baselines3 VecEnv (SuperSuit's bridge merges
truncation into ``done`` and is semi-deprecated, so we write our own).

Single-agent scenarios map copy ``i`` to entry ``i``. Multi-agent scenarios
whose agents share one observation and one action space are flattened with
parameter sharing: entry ``i * n_agents + k`` is agent ``k`` of copy ``i``.
Truncation is reported SB3's way (``TimeLimit.truncated`` plus
``terminal_observation``) so SB3 bootstraps on time limits. Goal-conditioned
observations reach SB3 as its Dict observations (``MultiInputPolicy``), and
``env_method("compute_reward", ...)`` reaches ``Scenario.compute_reward``, which
is what SB3's ``HerReplayBuffer`` calls to relabel.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from scenarios import Scenario, UserError, VectorScenario


def shared_spaces(source: Scenario | VectorScenario) -> tuple[gym.Space, gym.Space]:
    """The one observation and action space every agent of a scenario (or vector face) shares, else a UserError."""
    names = list(getattr(source, "possible_agents", None) or source.agents)
    obs = {a: source.observation_space(a) for a in names} if isinstance(source, Scenario) else source.observation_spaces
    act = {a: source.action_space(a) for a in names} if isinstance(source, Scenario) else source.action_spaces
    first = names[0]
    for a in names[1:]:
        if obs[a] != obs[first] or act[a] != act[first]:
            raise UserError(
                f"{source.id}: agents {first} and {a} have different spaces, so one shared-parameter SB3 model "
                "cannot act for both (valid: sharing=group or sharing=none, one model per team of identical spaces or per agent)"
            )
    return obs[first], act[first]


class ScenarioCopies:
    """SB3's attribute plumbing for VecEnvs over scenario copies: entry ``j`` belongs to copy
    ``j // per_copy`` of ``copies`` (shared by every VecEnv view in ``agents``)."""

    copies: list[Any]
    per_copy: int = 1

    def _owner(self, j: int) -> Any:
        return self.copies[j // self.per_copy]

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """Attributes of the underlying scenario copies (one per SB3 entry)."""
        return [getattr(self._owner(j), attr_name) for j in self._get_indices(indices)]  # type: ignore[attr-defined]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set an attribute on the underlying scenario copies."""
        for j in self._get_indices(indices):  # type: ignore[attr-defined]
            setattr(self._owner(j), attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Call a method of the underlying scenario copies."""
        return [getattr(self._owner(j), method_name)(*method_args, **method_kwargs)
                for j in self._get_indices(indices)]  # type: ignore[attr-defined]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> Sequence[bool]:
        """Scenario copies are never Gymnasium-wrapped."""
        return [False for _ in self._get_indices(indices)]  # type: ignore[attr-defined]


class SB3VecEnv(ScenarioCopies, VecEnv):
    """A VectorScenario seen by SB3 as ``num_envs * n_agents`` environments."""

    def __init__(self, vec: VectorScenario) -> None:
        self.vec = vec
        self.n_agents = len(vec.agents)
        self.copies, self.per_copy = vec.copies, self.n_agents
        obs_space, act_space = shared_spaces(vec)
        super().__init__(vec.num_envs * self.n_agents, obs_space, act_space)
        self._actions: np.ndarray | None = None
        self._t0 = np.full(vec.num_envs, time.perf_counter())

    def _flat(self, per_agent: dict[str, Any]) -> Any:
        first = per_agent[self.vec.agents[0]]
        if isinstance(first, dict):  # goal-conditioned observations: SB3's Dict obs, each key flattened alike
            return {k: self._flat({a: per_agent[a][k] for a in self.vec.agents}) for k in first}
        return np.stack([per_agent[a] for a in self.vec.agents], axis=1).reshape(self.num_envs, *first.shape[1:])

    def reset(self) -> np.ndarray:
        """Reset every copy, using seeds set by ``seed()`` if any."""
        seeds = self._seeds[:: self.n_agents]
        seed = None if all(s is None for s in seeds) else [int(s) for s in seeds]
        obs, _ = self.vec.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self._t0[:] = time.perf_counter()
        return self._flat(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for ``step_wait``."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step all copies; a finished copy is reset and reports SB3's terminal info."""
        assert self._actions is not None
        acts = self._actions.reshape(self.vec.num_envs, self.n_agents, *self._actions.shape[1:])
        obs, rew, term, trunc, infos = self.vec.step({a: acts[:, k] for k, a in enumerate(self.vec.agents)})
        rewards = self._flat(rew).astype(np.float32)
        terminated, truncated = self._flat(term), self._flat(trunc)
        dones = terminated | truncated
        out: list[dict[str, Any]] = []
        for i, info in enumerate(infos):
            for k, a in enumerate(self.vec.agents):
                j = i * self.n_agents + k
                entry: dict[str, Any] = dict(info.get("agents", {}).get(a, {}))
                entry["TimeLimit.truncated"] = bool(truncated[j] and not terminated[j])
                if "episode" in info:
                    ep = info["episode"]
                    dones[j] = True
                    entry["terminal_observation"] = info["final_observation"][a]
                    entry["episode"] = {"r": ep["returns"][a], "l": ep["length"], "t": time.perf_counter() - self._t0[i]}
                out.append(entry)
            if "episode" in info:
                self._t0[i] = time.perf_counter()
        return self._flat(obs), rewards, dones, out

    def close(self) -> None:
        """Close the scenario copies."""
        self.vec.close()
