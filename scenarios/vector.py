"""Vectorized face: N copies of a scenario stepped together, batched arrays per agent.

This is what trainers and the harness talk to. Observations, rewards and
flags are ``dict[agent, ndarray]`` with the copy index first. A copy's episode
ends when none of its agents is live. With ``autoreset=True`` (the default,
as in SB3's VecEnv) that copy is reset inside the same ``step`` call: the
returned observation is the new episode's first one, the flags are those of
the finished step, and ``infos[i]`` carries ``final_observation``,
``final_info`` and ``episode`` (per-agent returns, length, terminated,
truncated, the layers' sampled ``params``, the summed safety ``cost``:
per step the largest cost any agent reports, None without a cost layer, and
``success``: the source's ``is_success``/``success`` flag at the last step,
None where it reports none, and ``unstable``: MuJoCo's physics blew up and was reset during
the episode, ``scenarios.instability``, or any source's return came out NaN or infinite). Goal-conditioned (``Dict``) observations are
batched per key: ``obs[agent]["observation"]`` is ``(N, ...)`` (``scenarios.goals``). With ``autoreset=False`` a finished copy waits, ``done[i]`` is
True, and ``reset(indices=[i], seed=...)`` restarts it: the harness uses this
to give every episode its own seed.

Agents that leave early (not the case in the shipped sources) keep their last
observation, get zero reward, and ``active[agent][i]`` turns False.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from scenarios.errors import UserError, wrap_seed
from scenarios.goals import batch_rows, copy_batch, episode_success, is_goal_space, put_row, take_row
from scenarios.instability import simulation, warning_count
from scenarios.scenario import Scenario
from scenarios.spec import ScenarioSpec


def _buffer(space: spaces.Space, n: int) -> Any:
    if isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        return np.zeros((n, *space.shape), dtype=space.dtype)
    if is_goal_space(space):
        return batch_rows(space, n)
    raise UserError(f"vectorized face supports Box/Discrete/MultiDiscrete/MultiBinary spaces and goal-conditioned "
                    f"Dicts (observation, achieved_goal, desired_goal), not {space}")


def reset_seeds(seed: int | Sequence[int] | None, count: int, first_seed: int | None) -> list[int | None]:
    """Per-copy reset seeds: an int gives ``seed + j``, a list is taken as is, None falls back to
    ``first_seed + j`` (the face's own seed, on its first reset) or to no seed (continue each stream)."""
    if seed is None:
        return [None] * count if first_seed is None else [wrap_seed(first_seed + j) for j in range(count)]
    if isinstance(seed, (int, np.integer)):
        return [wrap_seed(int(seed) + j) for j in range(count)]
    seeds = [int(s) for s in seed]
    if len(seeds) != count:
        raise ValueError(f"got {len(seeds)} seeds for {count} copies")
    return seeds


def episode_summary(vec: Any, i: int, params: dict[str, Any], success: bool | None = None,
                    unstable: bool | None = None) -> dict[str, Any]:
    """The ``episode`` entry of copy ``i``'s info when its episode ends (shared by every backend);
    ``success``: the source's success flag at the episode's last step (None: it reports none);
    ``unstable``: MuJoCo's physics went unstable during the episode (``scenarios.instability``;
    None: not a MuJoCo source), and True for any source where a return is NaN or infinite (a particle
    world's physics overflowed under an extreme layer value: the return is not a measurement)."""
    returns = {a: float(vec.episode_returns[a][i]) for a in vec.agents}
    if not all(math.isfinite(r) for r in returns.values()):
        unstable = True
    return {
        "returns": returns,
        "length": int(vec.episode_lengths[i]),
        "terminated": bool(vec._ep_terminated[i]),
        "truncated": not bool(vec._ep_terminated[i]),
        "params": dict(params),
        "cost": float(vec.episode_costs[i]) if vec.has_cost else None,
        "success": success,
        "unstable": unstable,
    }


class VectorScenario:
    """``num_envs`` copies of one scenario spec with batched arrays per agent.

    >>> import numpy as np, scenarios
    >>> vec = scenarios.make("classic/CartPole-v1").vector(4, seed=0)
    >>> obs, infos = vec.reset()
    >>> obs["agent_0"].shape
    (4, 4)
    >>> obs, rew, term, trunc, infos = vec.step({"agent_0": np.zeros(4, dtype=np.int64)})
    """

    backend = "gymnasium"

    def __init__(self, spec: ScenarioSpec, num_envs: int, seed: int | None = None, autoreset: bool = True) -> None:
        if num_envs < 1:
            raise UserError(f"num_envs must be at least 1 (got {num_envs})")
        self.spec = spec
        self.id = spec.id
        self.num_envs = num_envs
        self.seed = seed
        self.autoreset = autoreset
        self.copies = [Scenario(spec) for _ in range(num_envs)]
        first = self.copies[0]
        self.agents: list[str] = list(first.possible_agents)
        self.time_limit = first.time_limit
        self.observation_spaces = {a: first.observation_space(a) for a in self.agents}
        self.action_spaces = {a: first.action_space(a) for a in self.agents}
        self._obs = {a: _buffer(s, num_envs) for a, s in self.observation_spaces.items()}
        self.active = {a: np.zeros(num_envs, bool) for a in self.agents}
        self.done = np.ones(num_envs, bool)
        self.episode_returns = {a: np.zeros(num_envs) for a in self.agents}
        self.episode_lengths = np.zeros(num_envs, np.int64)
        self.episode_costs = np.zeros(num_envs)
        self.has_cost = first.has_cost
        self._ep_terminated = np.zeros(num_envs, bool)
        self._sims = [simulation(c) for c in self.copies]  # MuJoCo's MjData per copy (None: another source)
        self._warnings = [0] * num_envs  # each simulation's instability warnings at its episode's start
        self._reset_once = False

    def _seeds(self, seed: int | Sequence[int] | None, count: int) -> list[int | None]:
        return reset_seeds(seed, count, None if self._reset_once else self.seed)

    def _reset_copy(self, i: int, seed: int | None, options: dict | None) -> dict[str, Any]:
        obs, infos = self.copies[i].reset(seed=seed, options=options)
        if self._sims[i] is not None:
            self._warnings[i] = warning_count(self._sims[i])
        for a in self.agents:
            if a in obs:
                put_row(self._obs[a], i, obs[a])
            self.active[a][i] = a in self.copies[i].agents
            self.episode_returns[a][i] = 0.0
        self.episode_lengths[i] = 0
        self.episode_costs[i] = 0.0
        self._ep_terminated[i] = False
        self.done[i] = False
        return infos

    def reset(
        self, seed: int | Sequence[int] | None = None, indices: Sequence[int] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Reset all copies (or ``indices``); an int seed gives copy ``indices[j]`` seed ``seed + j``."""
        idx = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        seeds = self._seeds(seed, len(idx))
        self._reset_once = True
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        for i, s in zip(idx, seeds):
            infos[i] = {"agents": self._reset_copy(i, s, options)}
        return self._observations(), infos

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: copy_batch(buf) for a, buf in self._obs.items()}

    def step(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], list[dict]]:
        """Step every running copy with row ``i`` of each agent's action array."""
        n = self.num_envs
        problem = action_problem(actions, self.agents, n) or action_value_problem(actions, self.action_spaces, self.agents)
        if problem is not None:  # before any copy steps: a failure half-way would leave the batch split
            raise problem
        rewards = {a: np.zeros(n, np.float64) for a in self.agents}
        terminated = {a: np.zeros(n, bool) for a in self.agents}
        truncated = {a: np.zeros(n, bool) for a in self.agents}
        infos: list[dict] = [{} for _ in range(n)]
        for i, copy in enumerate(self.copies):
            if self.done[i]:
                continue
            obs, rew, term, trunc, info = copy.step({a: actions[a][i] for a in copy.agents})
            for a, o in obs.items():
                put_row(self._obs[a], i, o)
            for a, r in rew.items():
                rewards[a][i] = r
                self.episode_returns[a][i] += r
            for a in term:
                terminated[a][i] = term[a]
                truncated[a][i] = trunc.get(a, False)
            self._ep_terminated[i] |= any(term.values())
            self.episode_lengths[i] += 1
            if self.has_cost:
                self.episode_costs[i] += max((x.get("cost", 0.0) for x in info.values()), default=0.0)
            for a in self.agents:
                self.active[a][i] = a in copy.agents
            infos[i] = {"agents": info}
            if not copy.agents:
                self._finish(i, infos[i])
        return self._observations(), rewards, terminated, truncated, infos

    def _finish(self, i: int, info: dict) -> None:
        self.done[i] = True
        sim = self._sims[i]
        unstable = None if sim is None else warning_count(sim) > self._warnings[i]
        info["episode"] = episode_summary(self, i, self.copies[i].params, episode_success(info["agents"]), unstable)
        if self.autoreset:
            info["final_observation"] = {a: take_row(self._obs[a], i) for a in self.agents}
            info["final_info"] = info["agents"]
            info["reset_info"] = self._reset_copy(i, None, None)

    def physics_state(self) -> np.ndarray:
        """Each copy's MuJoCo state, ``mjSTATE_FULLPHYSICS`` rows (N, nstate), for planners."""
        import mujoco

        from scenarios.layers.mujoco_model import require_mujoco

        handles = [require_mujoco(c, "physics_state") for c in self.copies]
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        out = np.zeros((self.num_envs, mujoco.mj_stateSize(handles[0].model, spec)))
        for i, h in enumerate(handles):
            mujoco.mj_getState(h.model, h.data, out[i], spec)
        return out

    def snapshots(self) -> list[Any]:
        """A deep copy of each copy's innermost source env, for tree-search planners."""
        import copy

        return [copy.deepcopy(c.unwrapped) for c in self.copies]

    def close(self) -> None:
        """Close every copy."""
        for copy in self.copies:
            copy.close()


def action_problem(actions: Any, agents: Sequence[str], n: int) -> UserError | None:
    """What makes ``actions`` not one ``(n, ...)`` array per agent, as one line, or None (every
    vectorized face refuses the same way)."""
    if not isinstance(actions, dict):
        return UserError(f"step takes a dict of agent -> (N, ...) actions, got {type(actions).__name__}")
    missing = [a for a in agents if a not in actions]
    if missing:
        return UserError(f"step: no actions for {', '.join(missing)} (valid: one array per agent: {', '.join(agents)})")
    for a in agents:
        if np.shape(actions[a])[:1] != (n,):
            return UserError(f"step: {a}'s actions have shape {np.shape(actions[a])}; the batch has {n} copies "
                             f"(valid: ({n}, ...))")
    return None


def action_value_problem(actions: dict[str, Any], action_spaces: dict[str, Any], agents: Sequence[str]) -> UserError | None:
    """Discrete actions that are not integers in the space's range, or Box actions that are not finite,
    as one line naming the agent and the valid values, or None. Every vectorized face checks them
    before any copy steps (mpe2's own check was a bare assertion on one face, while the particle batch
    read an action of 5 as 0 and an agent with three actions failed on an index)."""
    for a in agents:
        space, x = action_spaces[a], np.asarray(actions[a])
        if isinstance(space, spaces.Discrete):
            lo, hi = int(space.start), int(space.start + space.n)
            if x.dtype.kind not in "iu":
                return UserError(f"step: {a}'s actions are {x.dtype} (valid: integers {lo}..{hi - 1})")
            if x.size and (int(x.min()) < lo or int(x.max()) >= hi):
                return UserError(f"step: {a}'s actions include {int(x.min()) if x.min() < lo else int(x.max())} "
                                 f"(valid: integers {lo}..{hi - 1})")
        elif isinstance(space, spaces.Box) and x.dtype.kind == "f" and not np.isfinite(x).all():
            return UserError(f"step: {a}'s actions include NaN or infinity (valid: finite values in {space})")
    return None
