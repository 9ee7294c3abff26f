"""Hindsight experience replay for our own replay buffers (Andrychowicz et al. 2017).

SB3's ``HerReplayBuffer`` serves the SB3-backed learners; our DQN family has its own
buffer (prioritized, n-step: ``agents.replay``) and ``fast_sac`` its preallocated arrays,
which SB3's cannot stand in for, hence this relabeller beside them. It follows the paper's Algorithm 1: every real transition is
stored as it happens, and when a copy's episode ends, ``n_sampled_goal`` relabelled
transitions per step join the buffer, each with a goal the episode achieved:

- ``future``: the achieved goal after a uniformly drawn step ``f`` in ``[t, T-1]`` of the
  same episode (SB3's and the paper's ``future``);
- ``final``: the achieved goal at the episode's end;
- ``episode``: the achieved goal after any step of the episode.

Relabelled rows go to a ``Store``: ``buffer_store(ReplayBuffer)`` for the DQN family,
``fast_sac``'s own writer for its replay (continuous actions). A relabelled transition replaces ``desired_goal`` in the flat observation (``goals.flatten``
order) of both ends, and its reward is the source's ``compute_reward(achieved, goal, info)``
on each step of its n-step window (window, truncation and discount as ``agents.replay``
cuts real ones). Termination keeps the stored flag, as SB3's buffer does; reward layers are
not applied to relabelled rewards (the source's reward function is the one known). The
buffer then holds one real transition for each ``n_sampled_goal`` relabelled ones, the
ratio SB3 samples (0.8 relabelled at 4). Episodes in flight are kept across ``learn()``
calls, so relabelling continues where training stopped.

>>> import numpy as np
>>> from gymnasium import spaces
>>> from agents.replay import ReplayBuffer
>>> bits = spaces.MultiBinary(2)
>>> space = spaces.Dict({"achieved_goal": bits, "desired_goal": bits, "observation": bits})
>>> reward = lambda ag, g, info: -(np.abs(ag - g).sum(-1) > 0).astype(np.float32)
>>> buf = ReplayBuffer(100, (6,), np.float32, 1)
>>> her = Hindsight(space, reward, 1, np.random.default_rng(0), n_sampled_goal=2, strategy="final", gamma=0.9)
>>> o = lambda s: np.array([s + [1, 1] + s], np.float32)   # achieved = observation = s, desired = [1, 1]
>>> store = buffer_store(buf)
>>> her.add(o([0, 0]), np.array([0]), np.array([[1, 0]]), [{}], np.array([False]), store)
>>> her.add(o([1, 0]), np.array([1]), np.array([[1, 1]]), [{}], np.array([True]), store, o([1, 1]), np.array([True]))
>>> len(buf)   # 2 steps x 2 relabelled
4
>>> buf.obs[0, 2:4].tolist(), float(buf.rewards[0])   # goal: the final achieved [1, 1]
([1.0, 1.0], -1.0)
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np
from gymnasium import spaces

from scenarios import UserError

STRATEGIES = ("future", "final", "episode")


class Store(Protocol):
    """Where relabelled transitions go: rows of (observation, action, n-step reward, the
    observation it bootstraps from, the bootstrap's discount: 0 at a termination)."""

    def __call__(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                 discounts: np.ndarray) -> None: ...


def buffer_store(buffer: Any) -> Store:
    """A ``Store`` that puts each row into an ``agents.replay.ReplayBuffer`` (integer actions)."""

    def put(obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            discounts: np.ndarray) -> None:
        for j in range(len(rewards)):
            buffer.put(obs[j], int(actions[j]), float(rewards[j]), next_obs[j], float(discounts[j]))

    return put


def goal_slice(space: spaces.Dict, key: str = "desired_goal") -> slice:
    """Where ``key`` (by default ``desired_goal``) sits in the flat observation of a goal-conditioned Dict."""
    start = 0
    for name, sub in space.spaces.items():
        width = spaces.flatdim(sub)
        if name == key:
            return slice(start, start + width)
        start += width
    raise UserError(f"no {key} in {space}")


class Hindsight:
    """Per-copy episode records and their relabelling into a ``ReplayBuffer`` at each episode's end."""

    def __init__(self, space: spaces.Dict, compute_reward: Callable[[np.ndarray, np.ndarray, Any], np.ndarray],
                 n_envs: int, rng: np.random.Generator, n_sampled_goal: int = 4, strategy: str = "future",
                 gamma: float = 0.99, n_step: int = 1) -> None:
        if strategy not in STRATEGIES:
            raise UserError(f"unknown goal_selection_strategy '{strategy}' (valid: {', '.join(STRATEGIES)})")
        self.goal = goal_slice(space)
        self.compute_reward, self.k, self.strategy = compute_reward, int(n_sampled_goal), strategy
        self.gamma, self.n_step, self.rng = float(gamma), int(n_step), rng
        self.episodes: list[dict[str, list]] = [self._empty() for _ in range(n_envs)]

    @staticmethod
    def _empty() -> dict[str, list]:
        return {"obs": [], "actions": [], "achieved": [], "infos": []}

    def add(self, obs: np.ndarray, actions: np.ndarray, achieved: np.ndarray, infos: list[dict],
            ended: np.ndarray, store: Store, final_obs: np.ndarray | None = None,
            terminated: np.ndarray | None = None) -> None:
        """Record one vectorized step: the flat observations ``obs`` (N, d) before it, the
        actions, the achieved goals after it (N, g) and each copy's source info
        (``compute_reward``'s third argument). Where a copy's episode ``ended``, relabel that
        episode into ``store`` (``final_obs``: the flat final observations; ``terminated``:
        which copies ended by termination rather than truncation)."""
        for i, ep in enumerate(self.episodes):
            ep["obs"].append(np.array(obs[i]))
            ep["actions"].append(np.array(actions[i]))
            ep["achieved"].append(np.array(achieved[i]))
            ep["infos"].append(dict(infos[i]))
            if ended[i]:
                assert final_obs is not None and terminated is not None
                self._relabel(ep, final_obs[i], bool(terminated[i]), store)
                self.episodes[i] = self._empty()

    def add_step(self, obs: np.ndarray, actions: np.ndarray, nxt: dict[str, np.ndarray], infos: list[dict], agent: str,
                 ended: np.ndarray, store: Store, final_obs: np.ndarray, terminated: np.ndarray) -> None:
        """``add`` from what the vectorized face returned for ``agent``: its next goal Dict batch
        ``nxt`` (whose copies that ended were reset: their achieved goals come from
        ``infos[i]["final_observation"]``) and the per-copy infos (the source's, under ``agents``)."""
        achieved = np.array(nxt["achieved_goal"])
        for i in np.flatnonzero(ended):
            achieved[i] = infos[i]["final_observation"][agent]["achieved_goal"]
        source = [info.get("agents", {}).get(agent, {}) for info in infos]
        self.add(obs, actions, achieved, source, ended, store, final_obs, terminated)

    def _goals(self, T: int, achieved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The step of each relabelled transition and its new goal (``k`` per step)."""
        t = np.repeat(np.arange(T), self.k)
        if self.strategy == "future":
            f = self.rng.integers(t, T)
        elif self.strategy == "final":
            f = np.full_like(t, T - 1)
        else:
            f = self.rng.integers(0, T, len(t))
        return t, achieved[f]

    def _relabel(self, ep: dict[str, list], final_obs: np.ndarray, terminated: bool, store: Store) -> None:
        T = len(ep["actions"])
        obs = np.stack([*ep["obs"], np.asarray(final_obs, dtype=ep["obs"][0].dtype)])  # (T + 1, d)
        achieved = np.stack(ep["achieved"])
        infos = np.empty(T, dtype=object)  # one info dict per step, indexed like the other arrays
        infos[:] = ep["infos"]
        t, goals = self._goals(T, achieved)
        ret = np.zeros(len(t))
        for u in range(self.n_step):
            step = t + u
            inside = step < T
            s = np.minimum(step, T - 1)
            r = np.asarray(self.compute_reward(achieved[s], goals, infos[s]), dtype=np.float64).reshape(len(t))
            ret += np.where(inside, self.gamma**u * r, 0.0)
        m = np.minimum(self.n_step, T - t)
        discount = np.where((t + m == T) & terminated, 0.0, self.gamma**m)
        first, last = obs[t].copy(), obs[t + m].copy()
        first[:, self.goal] = goals.reshape(len(t), -1)
        last[:, self.goal] = goals.reshape(len(t), -1)
        store(first, np.stack(ep["actions"])[t], ret, last, discount)
