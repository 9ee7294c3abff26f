"""Any Stable-Baselines3 algorithm applied per agent or per group of a multi-agent
scenario, trained simultaneously on one shared vectorized face (no SuperSuit).

``sharing: none`` gives every agent its own SB3 model; ``sharing: group`` one
model per group (``agents.marl.groups``: same team and spaces; agent id
appended to the observation when a group has several agents). SB3's
``learn()`` drives its own environment, so each group's model learns in its
own thread through a ``GroupVecEnv`` facade, and a ``Lockstep`` coordinator
steps the real scenario once every group has submitted its actions.

Only one thread runs at a time: a baton passes in fixed group order (group 0
acts, then group 1, ..., the last one steps the scenario), so the global torch
and NumPy random streams are consumed in the same order every run and
training is deterministic for a seed. A group whose ``learn()`` has finished
keeps acting (sampling its policy) until the others finish. Truncation is
reported SB3's way (``TimeLimit.truncated`` + ``terminal_observation``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from agents.marl.groups import Group
from agents.sb3_logging import quiet
from agents.sb3_vecenv import ScenarioCopies


class Lockstep:
    """Steps one vectorized scenario when every live group has submitted actions."""

    def __init__(self, vec: Any, groups: list[Group]) -> None:
        self.vec, self.groups = vec, groups
        self.cond = threading.Condition()
        self.turn = 0
        self.live = [True] * len(groups)
        self.actions: dict[str, np.ndarray] = {}
        self.fallback: list[Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None] = [None] * len(groups)
        self.error: BaseException | None = None
        self.obs, _ = vec.reset()
        self.result: tuple | None = None

    def wait_turn(self, g: int) -> None:
        """Block until it is group ``g``'s turn (or another thread failed)."""
        with self.cond:
            self.cond.wait_for(lambda: self.turn == g or self.error is not None)
            if self.error is not None:
                raise RuntimeError("another group's training thread failed") from self.error

    def _next_live(self, g: int) -> int | None:
        for j in range(g + 1, len(self.groups)):
            if self.live[j]:
                return j
        return None

    def submit(self, g: int, actions: dict[str, np.ndarray]) -> None:
        """Group ``g`` hands over its actions; the last live group steps the scenario."""
        self.actions.update(actions)
        self._pass(g)

    def finish(self, g: int, policy: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> None:
        """Group ``g`` stops learning; ``policy`` acts for it from now on."""
        with self.cond:
            self.live[g] = False
            self.fallback[g] = policy
        if any(self.live):
            self._pass(g)

    def fail(self, exc: BaseException) -> None:
        """Record a failure and wake every waiting thread."""
        with self.cond:
            if self.error is None:
                self.error = exc
            self.cond.notify_all()

    def _pass(self, g: int) -> None:
        nxt = self._next_live(g)
        if nxt is None:
            for j, fb in enumerate(self.fallback):
                if not self.live[j] and fb is not None:
                    self.actions.update(fb(self.obs))
            self.result = self.vec.step(self.actions)
            self.obs = self.result[0]
            self.actions = {}
            nxt = self.live.index(True) if any(self.live) else None
        with self.cond:
            self.turn = -1 if nxt is None else nxt
            self.cond.notify_all()


class GroupVecEnv(ScenarioCopies, VecEnv):
    """One group's view of the lockstep scenario: ``num_envs * k`` SB3 entries."""

    def __init__(self, lock: Lockstep, gi: int) -> None:
        self.lock, self.gi = lock, gi
        self.group = g = lock.groups[gi]
        self.k = len(g.agents)
        self.copies, self.per_copy = lock.vec.copies, self.k
        obs_space = spaces.Box(-np.inf, np.inf, (g.in_dim,), np.float32)
        super().__init__(lock.vec.num_envs * self.k, obs_space, g.act_space)
        self._actions: np.ndarray | None = None
        self._t0 = np.full(lock.vec.num_envs, time.perf_counter())

    def _rows(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.stack([arrays[a] for a in self.group.agents], axis=1).reshape(self.num_envs, *np.shape(arrays[self.group.agents[0]])[1:])

    def observe(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The group's SB3 observation rows for per-agent observations."""
        x = self.group.inputs(obs)
        return x.reshape(-1, x.shape[-1])

    def reset(self) -> np.ndarray:
        """The scenario is reset once by the coordinator; every group sees that first observation."""
        return self.observe(self.lock.obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Store this group's actions."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Submit, wait for the scenario step, return this group's slice."""
        assert self._actions is not None
        n = self.lock.vec.num_envs
        acts = self._actions.reshape(n, self.k, *self._actions.shape[1:])
        self.lock.submit(self.gi, {a: acts[:, j] for j, a in enumerate(self.group.agents)})
        self.lock.wait_turn(self.gi)
        assert self.lock.result is not None
        obs, rew, term, trunc, infos = self.lock.result
        rewards = self._rows(rew).astype(np.float32)
        terminated, truncated = self._rows(term), self._rows(trunc)
        dones = terminated | truncated
        out: list[dict[str, Any]] = []
        for i, info in enumerate(infos):
            for j, a in enumerate(self.group.agents):
                e = i * self.k + j
                entry: dict[str, Any] = {"TimeLimit.truncated": bool(truncated[e] and not terminated[e])}
                if "episode" in info:
                    dones[e] = True
                    entry["terminal_observation"] = self.observe({b: o[None] for b, o in info["final_observation"].items()})[j]
                    entry["episode"] = {"r": info["episode"]["returns"][a], "l": info["episode"]["length"],
                                        "t": time.perf_counter() - self._t0[i]}
                out.append(entry)
            if "episode" in info:
                self._t0[i] = time.perf_counter()
        return self.observe(obs), rewards, dones, out

    def close(self) -> None:
        """The coordinator owns the scenario copies."""


def group_actions(model: Any, env: GroupVecEnv, obs: dict[str, np.ndarray], deterministic: bool) -> dict[str, np.ndarray]:
    """Per-agent actions of one group's SB3 model for batched per-agent observations."""
    rows = env.group.inputs(obs)
    n, k = rows.shape[:2]
    a, _ = model.predict(rows.reshape(n * k, -1), deterministic=deterministic)
    a = np.asarray(a).reshape(n, k, *np.asarray(a).shape[1:])
    return {agent: a[:, j] for j, agent in enumerate(env.group.agents)}


def learn_in_lockstep(models: list[Any], envs: list[GroupVecEnv], lock: Lockstep, steps: int,
                      callbacks: list[Any]) -> None:
    """Run every group's ``model.learn`` in its own thread, baton-passing in group order.

    ``steps`` counts scenario steps; group ``g`` learns ``steps * num_envs_g / num_envs``
    SB3 timesteps (one per agent-step)."""
    lock.turn = 0
    lock.live = [True] * len(models)
    lock.fallback = [None] * len(models)

    def body(g: int) -> None:
        try:
            lock.wait_turn(g)
            total = steps * len(lock.groups[g].agents)
            quiet(models[g]).learn(total_timesteps=total, callback=callbacks[g], reset_num_timesteps=False)
            lock.finish(g, lambda obs, m=models[g], e=envs[g]: group_actions(m, e, obs, deterministic=False))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            lock.fail(exc)

    threads = [threading.Thread(target=body, args=(g,), daemon=True) for g in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if lock.error is not None:
        raise lock.error
