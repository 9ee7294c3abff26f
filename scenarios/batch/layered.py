"""What every batched backend shares: the layer stacks over N copies, resets, and the step's bookkeeping.

A backend (``BatchVectorScenario`` for MuJoCo, ``ParticleVectorScenario`` for mpe2's worlds)
holds its N simulations and implements two methods: ``_restart(ids)`` (new episodes for the
copies ``ids``, their generators already seeded; returns each agent's first observations)
and ``_advance(ids, actions, all_running)`` (one step of the copies ``ids``; returns each
agent's observations, rewards and the copies' terminations). Everything else - the spec's
layer stack and the per-copy sub-stacks (``copy_layers``: a grid's points), per-copy reset
seeds, episode statistics, time limits, ``final_observation`` and autoreset, the VectorScenario
interface - lives here once.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import MappingProxyType, SimpleNamespace
from typing import Any

import numpy as np
from gymnasium.utils import seeding

from scenarios.errors import UserError
from scenarios.layers import build_layers
from scenarios.layers.stack import LayerStack
from scenarios.spec import LayerSpec, ScenarioSpec
from scenarios.vector import action_problem, action_value_problem, episode_summary, reset_seeds


class Context:
    """What a layer binds to on a batch: ids, spaces, N copies and their physics."""

    def __init__(self, spec: ScenarioSpec, n: int, physics: Any, obs_spaces: dict, act_spaces: dict,
                 particles: Any = None) -> None:
        self.spec, self.id, self.possible_agents, self.num_copies = spec, spec.id, list(act_spaces), n
        self.physics, self.particles, self._obs, self._act = physics, particles, obs_spaces, act_spaces
        self.source = None  # no single source env: single-world layers refuse to bind

    def observation_space(self, agent: str) -> Any:
        """The observation space the layer sees (before it)."""
        return self._obs[agent]

    def action_space(self, agent: str) -> Any:
        """The agent's action space."""
        return self._act[agent]


class SubStack:
    """Extra layers of some copies (a grid point's): local copy ``k`` is global copy ``copies[k]``."""

    def __init__(self, stack: LayerStack, copies: np.ndarray, n: int) -> None:
        self.stack, self.copies = stack, copies
        self.local = np.full(n, -1, np.int64)
        self.local[copies] = np.arange(len(copies))
        hooks = stack.hooks
        self.steps = any(hooks[h] for h in ("before_step", "act", "after_step", "observe", "reward"))
        """Whether it acts during steps (a grid point's dynamics layers act at resets only)."""

    def split(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``ids`` of this sub-stack's copies, and their local indices."""
        loc = self.local[ids]
        pos = np.flatnonzero(loc >= 0)
        return pos, loc[pos]


class LayeredBatch(ABC):
    """The layer stacks and episode bookkeeping of N batched copies (see the module docstring)."""

    spec: ScenarioSpec
    num_envs: int
    seed: int | None
    autoreset: bool
    agents: list[str]
    time_limit: int | None
    physics_checked: bool = False  # a MuJoCo backend marks unstable episodes in ``_unstable``

    def _init_layers(self, obs_spaces: dict, act_spaces: dict, copy_layers: Sequence[Sequence[LayerSpec]] | None,
                     context: Any, subset: Any) -> None:
        """Build the spec's stack on ``context`` and the per-copy sub-stacks on ``subset(copies)``'s contexts,
        then the per-copy state every backend keeps."""
        spec, num_envs = self.spec, self.num_envs
        extra = list(copy_layers) if copy_layers is not None else [[] for _ in range(num_envs)]
        if len(extra) != num_envs:
            raise ValueError(f"copy_layers has {len(extra)} entries for {num_envs} copies")
        self.stack = LayerStack(build_layers(spec.layers), context, obs_spaces)
        self.subs: list[SubStack] = []
        groups: dict[str, list[int]] = {}
        for i, layers in enumerate(extra):
            if layers:
                groups.setdefault(json.dumps([x.model_dump() for x in layers], sort_keys=True), []).append(i)
        for copies in groups.values():
            idx = np.asarray(copies, np.int64)
            after = dict(obs_spaces)
            sub = LayerStack(build_layers(list(extra[copies[0]])), subset(idx, after, act_spaces), after)
            if after != obs_spaces:
                raise UserError(f"{spec.id}: per-copy layers may not change the observation space")
            self.subs.append(SubStack(sub, idx, num_envs))
        self._owner = np.full(num_envs, -1, np.int64)  # the sub-stack of each copy (a copy has at most one)
        for k, sub in enumerate(self.subs):
            self._owner[sub.copies] = k
        self._stepping = any(sub.steps for sub in self.subs)
        self.has_cost = self.stack.has_cost or any(x.stack.has_cost for x in self.subs)
        self._layered = bool(self.stack) or bool(self.subs)
        self.observation_spaces = dict(obs_spaces)
        self.params: list[dict[str, Any]] = [{} for _ in range(num_envs)]
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._obs = {a: np.zeros((num_envs, *sp.shape), sp.dtype) for a, sp in obs_spaces.items()}
        self.active = {a: np.zeros(num_envs, bool) for a in self.agents}
        self.done = np.ones(num_envs, bool)
        self.episode_returns = {a: np.zeros(num_envs) for a in self.agents}
        self.episode_lengths = np.zeros(num_envs, np.int64)
        self.episode_costs = np.zeros(num_envs)
        self._ep_terminated = np.zeros(num_envs, bool)
        self._unstable = np.zeros(num_envs, bool)  # set by a physics backend's _advance (scenarios.instability)
        self._reset_once = False
        empty = MappingProxyType({})
        self._no_info = MappingProxyType({a: empty for a in self.agents})
        self._no_step_info = MappingProxyType({"agents": self._no_info})

    # -- what a backend implements ------------------------------------------
    @abstractmethod
    def _restart(self, ids: list[int], idx: np.ndarray) -> dict[str, np.ndarray]:
        """New episodes for copies ``ids`` (``idx`` as an array; generators in ``self._rngs`` seeded): the
        agents' first observations, rows in the order of ``ids``."""

    @abstractmethod
    def _advance(self, ids: np.ndarray, actions: dict[str, np.ndarray],
                 all_running: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """One step of copies ``ids`` under ``actions`` (their rows): observations, rewards, terminations."""

    # -- the layer stacks, the spec's then per-copy ------------------------
    def _stacks(self, ids: np.ndarray, stepping: bool = False) -> list[tuple[LayerStack, np.ndarray, np.ndarray | None]]:
        """(stack, its local copy indices, their positions in ``ids`` or None for all) per stack with copies in
        ids; ``stepping``: only those that act during steps."""
        out: list[tuple[LayerStack, np.ndarray, np.ndarray | None]] = [(self.stack, ids, None)] if self.stack else []
        if self.subs and (self._stepping or not stepping):
            owners = self._owner[ids]
            for k in np.unique(owners[owners >= 0]):
                sub = self.subs[int(k)]
                if sub.steps or not stepping:
                    pos, loc = sub.split(ids)
                    out.append((sub.stack, loc, pos))
        return out

    @staticmethod
    def _rows(fn: Any, values: dict[str, np.ndarray], pos: np.ndarray | None, *args: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``fn`` applied to the rows ``pos`` of each agent's ``values`` (all rows when pos is None)."""
        if pos is None:
            return fn(dict(values), *args)
        got = fn({a: v[pos] for a, v in values.items()}, *[{a: v[pos] for a, v in x.items()} for x in args])
        out = {}
        for a, v in values.items():
            out[a] = np.array(v, copy=True)
            out[a][pos] = got[a]
        return out

    # -- reset -------------------------------------------------------------
    def _seeds(self, seed: int | Sequence[int] | None, count: int) -> list[int | None]:
        return reset_seeds(seed, count, None if self._reset_once else self.seed)

    def _reset_ids(self, ids: list[int], seeds: list[int | None]) -> None:
        for i, s in zip(ids, seeds):
            if s is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(s)[0]
        idx = np.asarray(ids, np.int64)
        stacks = self._stacks(idx) if self._layered else []
        for stack, loc, pos in stacks:
            stack.seed(loc, seeds if pos is None else [seeds[j] for j in pos])
            stack.before_reset(loc)
        obs = self._restart(ids, idx)
        if stacks:
            report: list[dict[str, Any]] = [{} for _ in ids]
            for stack, loc, pos in stacks:
                for j, values in enumerate(stack.start_episode(loc)):
                    report[j if pos is None else int(pos[j])].update(values)
                if stack.hooks["observe"]:
                    obs = self._rows(lambda x, loc=loc, stack=stack: stack.observe(x, loc), obs, pos)
            for j, i in enumerate(ids):
                self.params[i] = report[j]
        for a in self.agents:
            self._obs[a][idx] = obs[a]
            self.active[a][idx] = True
            self.episode_returns[a][idx] = 0.0
        self.episode_lengths[idx] = 0
        self.episode_costs[idx] = 0.0
        self._ep_terminated[idx] = False
        self._unstable[idx] = False
        self.done[idx] = False

    def _reset_info(self, i: int) -> Any:
        if not self._layered:
            return self._no_info
        return {a: {"layers": self.params[i]} for a in self.agents}

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: v.copy() for a, v in self._obs.items()}

    def reset(self, seed: int | Sequence[int] | None = None, indices: Sequence[int] | None = None,
              options: dict | None = None) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Reset all copies (or ``indices``); an int seed gives copy ``indices[j]`` seed ``seed + j``."""
        ids = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        seeds = self._seeds(seed, len(ids))
        self._reset_once = True
        self._reset_ids(ids, seeds)
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        for i in ids:
            infos[i] = {"agents": self._reset_info(i)}
        return self._observations(), infos

    # -- step --------------------------------------------------------------
    def _before(self, stacks: list, ids: np.ndarray, t: np.ndarray, action: dict[str, np.ndarray],
                agent_infos: list[dict]) -> dict[str, np.ndarray]:
        """Layers before the physics step: reports, then the actions each copy's source receives."""
        for stack, loc, pos in stacks:
            report = stack.before_step(loc, t if pos is None else t[pos])
            if report is not None:
                for j, values in enumerate(report):
                    if values:
                        for a in self.agents:
                            agent_infos[j if pos is None else int(pos[j])][a].setdefault("layers", {}).update(values)
            if stack.hooks["act"]:
                action = self._rows(lambda x, loc=loc, stack=stack: stack.act(x, loc), action, pos)
        return action

    def _after(self, stacks: list, ids: np.ndarray, t: np.ndarray, obs: dict[str, np.ndarray], reward: dict[str, np.ndarray],
               done: dict[str, np.ndarray], agent_infos: list[dict]) -> tuple[dict, dict]:
        """Layers after the physics step, over the rows of the copies stepped."""
        for stack, loc, pos in stacks:
            if stack.hooks["after_step"]:
                stack.after_step(loc, t if pos is None else t[pos],
                                 agent_infos if pos is None else [agent_infos[j] for j in pos])
            if stack.hooks["observe"]:
                obs = self._rows(lambda x, loc=loc, stack=stack: stack.observe(x, loc), obs, pos)
            if stack.hooks["reward"]:
                reward = self._rows(lambda r, d, loc=loc, stack=stack: stack.reward(r, d, loc), reward, pos, done)
        return obs, reward

    def step(self, actions: dict[str, np.ndarray]) -> tuple[dict, dict, dict, dict, list[dict]]:
        """Step every running copy with row ``i`` of each agent's action array."""
        n = self.num_envs
        running = ~self.done
        all_running = bool(running.all())
        ids = np.arange(n) if all_running else np.flatnonzero(running)
        if len(ids) == 0:
            infos: list[dict] = [{} for _ in range(n)]
            zeros = np.zeros(n, bool)
            return (self._observations(), {a: np.zeros(n) for a in self.agents}, {a: zeros.copy() for a in self.agents},
                    {a: zeros.copy() for a in self.agents}, infos)
        stacks = self._stacks(ids, stepping=True) if self._layered else []
        # layers write into each copy's agent infos; without them every copy shares one read-only mapping
        agent_infos: Any = [{a: {} for a in self.agents} for _ in ids] if stacks else [self._no_info] * len(ids)
        t = self.episode_lengths[ids] + 1
        try:  # shapes are checked where they failed only; the values (a few microseconds) always
            applied = {a: np.asarray(actions[a]) if all_running else np.asarray(actions[a])[ids] for a in self.agents}
            problem = action_value_problem(applied, self.action_spaces, self.agents)
            if problem is not None:
                raise problem
            if stacks:
                applied = self._before(stacks, ids, t, applied, agent_infos)
            obs_ids, rew_ids, term_ids = self._advance(ids, applied, all_running)
        except (KeyError, IndexError, ValueError) as exc:
            raise action_problem(actions, self.agents, self.num_envs) or exc
        self.episode_lengths[ids] += 1
        terminated = np.zeros(n, bool)
        terminated[ids] = term_ids
        truncated = np.zeros(n, bool)
        if self.time_limit is not None:
            truncated[ids] = (self.episode_lengths[ids] >= self.time_limit) & ~term_ids
        if stacks:
            done_ids = (terminated | truncated)[ids]
            obs_ids, rew_ids = self._after(stacks, ids, t, obs_ids, rew_ids, {a: done_ids for a in self.agents}, agent_infos)
            if self.has_cost:
                self.episode_costs[ids] += [max(x[a].get("cost", 0.0) for a in self.agents) for x in agent_infos]
        rewards = {}
        for a in self.agents:
            self._obs[a][ids] = obs_ids[a]
            rewards[a] = np.zeros(n)
            rewards[a][ids] = rew_ids[a]
            self.episode_returns[a] += rewards[a]
        self._ep_terminated |= terminated
        finished = np.flatnonzero(terminated | truncated)
        if not stacks and all_running:  # copies that did not finish share one read-only info (replaced below for the rest)
            infos = [self._no_step_info] * n
            for i in finished:
                infos[i] = {"agents": self._no_info}
        elif all_running:
            infos = [{"agents": x} for x in agent_infos]
        else:
            infos = [{} for _ in range(n)]
            for j, i in enumerate(ids):
                infos[i] = {"agents": agent_infos[j]}
        if len(finished):
            self.done[finished] = True
            for a in self.agents:
                self.active[a][finished] = False
            for i in finished:
                infos[i]["episode"] = episode_summary(self, i, self.params[i],
                                                      unstable=bool(self._unstable[i]) if self.physics_checked else None)
            if self.autoreset:
                for i in finished:
                    infos[i]["final_observation"] = {a: self._obs[a][i].copy() for a in self.agents}
                    infos[i]["final_info"] = infos[i]["agents"]
                self._reset_ids(list(finished), [None] * len(finished))
                for i in finished:
                    infos[i]["reset_info"] = self._reset_info(i)
        return (self._observations(), rewards, {a: terminated.copy() for a in self.agents},
                {a: truncated.copy() for a in self.agents}, infos)

    @property
    def copies(self) -> list[Any]:
        """Per-copy attribute holders (for SB3's get_attr); the simulations live in the batch."""
        return [SimpleNamespace(render_mode=None, params=self.params[i]) for i in range(self.num_envs)]
