"""The batched MuJoCo backend: N simulations in ``mujoco.batch``, task logic in NumPy.

Stepping runs in C on a thread pool (``mujoco.batch.Batch``, bit-identical to
``mj_step`` per simulation); observations, rewards, terminations and resets
are the vectorized Gymnasium v5 task logic of ``scenarios.batch.tasks``. Each
copy resets with its own Gymnasium-compatible generator, so copy ``i`` seeded
``s + i`` starts exactly where the Gymnasium-backed face starts.

Every layer type runs here, through the same batch-first layer stack as the
single-copy face (``scenarios.layers.stack``): one stack for all N copies,
each copy with its own generators seeded from its reset seeds; observation,
action and reward layers are array operations over the copies stepped; forces
are written into each simulation's ``xfrc_applied``; dynamics layers write
each simulation's rows of the batch's per-simulation model fields, followed by
``set_const`` for the copies whose masses or sizes changed. Extra per-copy
layers (``copy_layers``: a grid's points) run as sub-stacks over the copies
that share them, so one batch covers a whole grid or a randomized population.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import mujoco
import numpy as np
from gymnasium.utils import seeding
from mujoco import batch as mjbatch

from scenarios.batch.mamujoco_obs import LocalObservations
from scenarios.batch.tasks import TASKS, Fields, prepare
from scenarios.errors import UserError
from scenarios.layers import build_layers
from scenarios.layers.mujoco_model import find_mujoco
from scenarios.layers.physics import BatchPhysics, PhysicsSubset
from scenarios.layers.stack import LayerStack
from scenarios.scenario import Scenario
from scenarios.spec import LayerSpec, ScenarioSpec
from scenarios.vector import episode_summary, reset_seeds

AGENT = "agent_0"
_MANY_SEGMENT = {"ManySegmentAnt": "Ant-v5", "ManySegmentSwimmer": "Swimmer-v5"}


def task_name(spec: ScenarioSpec) -> str | None:
    """The Gymnasium MuJoCo v5 task a spec simulates (MaMuJoCo factorizes one), or None."""
    kind, _, name = spec.source.partition(":")
    if kind == "gymnasium":
        return name
    if kind == "mamujoco":
        scenario = name.partition("/")[0]
        return _MANY_SEGMENT.get(scenario, f"{scenario}-v5")
    return None


def unsupported_reason(spec: ScenarioSpec) -> str | None:
    """Why the batched backend cannot run ``spec`` (None when it can)."""
    if task_name(spec) not in TASKS:
        return (f"the batched backend supports the Gymnasium MuJoCo v5 tasks {', '.join(sorted(TASKS))} and MaMuJoCo's "
                f"factorizations of them, not {spec.source}")
    return None


class _Context:
    """What a layer binds to on the batch: ids, spaces, N copies and their physics."""

    def __init__(self, spec: ScenarioSpec, n: int, physics: Any, obs_spaces: dict, act_spaces: dict) -> None:
        self.spec, self.id, self.possible_agents, self.num_copies = spec, spec.id, list(act_spaces), n
        self.physics, self._obs, self._act = physics, obs_spaces, act_spaces
        self.source = None  # no single source env: PettingZoo-world layers refuse to bind

    def observation_space(self, agent: str) -> Any:
        return self._obs[agent]

    def action_space(self, agent: str) -> Any:
        return self._act[agent]


class _SubStack:
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


class BatchVectorScenario:
    """``num_envs`` copies of a MuJoCo scenario on ``mujoco.batch``, with VectorScenario's interface.

    >>> import numpy as np, scenarios
    >>> vec = scenarios.make("mujoco/HalfCheetah-medium-v0").vector(64, seed=0)
    >>> vec.backend
    'batch'
    >>> obs, _ = vec.reset()
    >>> obs, rew, term, trunc, infos = vec.step({"agent_0": np.zeros((64, 6), np.float32)})
    """

    backend = "batch"

    def __init__(self, spec: ScenarioSpec, num_envs: int, seed: int | None = None, autoreset: bool = True,
                 nthread: int | None = None, copy_layers: Sequence[Sequence[LayerSpec]] | None = None) -> None:
        """``copy_layers[i]`` (optional) adds layers to copy ``i`` only (after the spec's): one batch, many worlds."""
        reason = unsupported_reason(spec)
        if reason:
            raise UserError(f"{spec.id}: {reason}")
        if num_envs < 1:
            raise UserError(f"num_envs must be at least 1 (got {num_envs})")
        self.template = Scenario(spec)  # validates the spec and its layers, and holds the Gymnasium env
        handle = find_mujoco(self.template)
        env = handle.env  # the Gymnasium env (MaMuJoCo's single-agent env for mamujoco sources)
        self.spec, self.id, self.num_envs, self.seed, self.autoreset = spec, spec.id, num_envs, seed, autoreset
        self.task = TASKS[str(task_name(spec))]
        self.p = prepare(self.task, env)
        self.model = env.model
        self.frame_skip = int(env.frame_skip)
        self.agents = list(self.template.possible_agents)
        self.time_limit = self.template.time_limit
        self.action_spaces = {a: self.template.action_space(a) for a in self.agents}
        self._local, self._act_ids = self._factorization(spec)
        self._rne = self.task.needs_rne or (self._local is not None and "cfrc_ext" in self._local.fields)
        threads = nthread if nthread is not None else min(os.cpu_count() or 1, num_envs)
        self.batch = mjbatch.Batch(self.model, num_envs, nthread=threads, persistent=self._rne)
        outputs = set(self.task.outputs) | ({f for f in self._local.fields if f not in ("qpos", "qvel", "cfrc_ext")}
                                            if self._local is not None else set())
        self._fields = Fields(qpos=self.batch.bind("qpos"), qvel=self.batch.bind("qvel"),
                              **{name: self.batch.bind(name) for name in sorted(outputs)})
        self._ctrl = self.batch.bind("ctrl")
        if self._rne:
            self._fields.cfrc_ext = np.zeros((num_envs, self.model.nbody, 6))
            self._scratch = mujoco.MjData(self.model)
        extra = list(copy_layers) if copy_layers is not None else [[] for _ in range(num_envs)]
        if len(extra) != num_envs:
            raise ValueError(f"copy_layers has {len(extra)} entries for {num_envs} copies")
        self.physics = BatchPhysics(self.batch, handle)
        act_spaces = {a: self.template.source.action_space(a) for a in self.agents}
        obs_spaces = {a: self.template.source.observation_space(a) for a in self.agents}
        context = _Context(spec, num_envs, self.physics, obs_spaces, act_spaces)
        self.stack = LayerStack(build_layers(spec.layers), context, obs_spaces)
        self.subs: list[_SubStack] = []
        groups: dict[str, list[int]] = {}
        for i, layers in enumerate(extra):
            if layers:
                groups.setdefault(json.dumps([x.model_dump() for x in layers], sort_keys=True), []).append(i)
        for copies in groups.values():
            idx = np.asarray(copies, np.int64)
            after = dict(obs_spaces)
            sub = LayerStack(build_layers(list(extra[copies[0]])),
                             _Context(spec, len(idx), PhysicsSubset(self.physics, idx), after, act_spaces), after)
            if after != obs_spaces:
                raise UserError(f"{spec.id}: per-copy layers may not change the observation space")
            self.subs.append(_SubStack(sub, idx, num_envs))
        expanded = self.physics.expanded("body_mass")
        self._fields.body_mass = expanded if expanded is not None else np.broadcast_to(self.model.body_mass, (num_envs, self.model.nbody))
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
        self._reset_once = False
        if mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_FULLPHYSICS) != 1 + self.model.nq + self.model.nv + self.model.na:
            raise UserError(f"{spec.id}: the batched backend expects no actuator history or plugin state")

    def _factorization(self, spec: ScenarioSpec) -> tuple[LocalObservations | None, dict[str, np.ndarray] | None]:
        """MaMuJoCo's per-agent observations (gathers from the state) and actuators, or None for one agent."""
        if spec.source.partition(":")[0] != "mamujoco":
            return None, None
        env = self.template.source
        if getattr(env, "agent_obsk", None) is None:
            raise UserError(f"{spec.id}: a MaMuJoCo env without a factorization is its single-agent task; "
                            f"use gymnasium:{task_name(spec)} (or backend='gymnasium')")
        acts = {a: np.array([node.act_ids for node in env.agent_action_partitions[k]], np.int64).reshape(-1)
                for k, a in enumerate(self.agents)}
        return LocalObservations(env, self.model, spec.id), acts

    def _split(self, obs: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Each agent's observations of the simulations ``rows`` (``obs``: their task observations)."""
        if self._local is None:
            return {AGENT: obs}
        return self._local.observe({f: getattr(self._fields, f)[rows] for f in self._local.fields}, len(rows))

    def _join(self, actions: dict[str, np.ndarray], rows: int) -> np.ndarray:
        """The task's action rows from each agent's actions."""
        if self._act_ids is None:
            return actions[AGENT]
        out = np.zeros((rows, self.model.nu))
        for a, idx in self._act_ids.items():
            out[:, idx] = actions[a]
        return out

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
        self.batch.reset(idx, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in ids:
            qpos, qvel = self.task.reset(self.p, self._rngs[i])
            self._fields.qpos[i] = qpos
            self._fields.qvel[i] = qvel
        self.batch.forward(idx)
        if self._rne:
            self._fields.cfrc_ext[idx] = 0.0  # Gymnasium's reset runs mj_forward only: cfrc_ext stays zero
        obs = self._split(self.task.obs(self.p, self._fields)[idx], idx)
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
        self.done[idx] = False

    def _reset_info(self, i: int) -> dict:
        return {a: {"layers": self.params[i]} if self._layered else {} for a in self.agents}

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
        infos: list[dict] = [{} for _ in range(n)]
        if len(ids) == 0:
            zeros = np.zeros(n, bool)
            return (self._observations(), {a: np.zeros(n) for a in self.agents}, {a: zeros.copy() for a in self.agents},
                    {a: zeros.copy() for a in self.agents}, infos)
        agent_infos: list[dict] = [{a: {} for a in self.agents} for _ in ids]
        stacks = self._stacks(ids, stepping=True) if self._layered else []
        t = self.episode_lengths[ids] + 1
        applied = {a: np.asarray(actions[a]) if all_running else np.asarray(actions[a])[ids] for a in self.agents}
        if stacks:
            applied = self._before(stacks, ids, t, applied, agent_infos)
        joint = self._join(applied, len(ids))
        before = self.task.before(self.p, self._fields)
        if all_running:
            self._ctrl[:] = joint
            full = joint
        else:
            self._ctrl[ids] = joint
            full = np.zeros((n, *np.shape(joint)[1:]), np.float64)
            full[ids] = joint
        self.batch.step(None if all_running else ids, nstep=self.frame_skip)
        if self._rne:
            for i in ids:
                self.batch.get_data(int(i), self._scratch)
                mujoco.mj_rnePostConstraint(self.model, self._scratch)
                self._fields.cfrc_ext[i] = self._scratch.cfrc_ext
        task_obs = self.task.obs(self.p, self._fields)
        reward, terminated = self.task.reward(self.p, self._fields, before, full)
        self.episode_lengths[ids] += 1
        truncated = np.zeros(n, bool)
        if self.time_limit is not None:
            truncated = (self.episode_lengths >= self.time_limit) & ~terminated
        reward = np.where(running, reward, 0.0)
        terminated &= running
        truncated &= running
        obs_ids = self._split(task_obs[ids], ids)
        rew_ids = {a: reward[ids] for a in self.agents}  # every agent gets the team reward (MaMuJoCo's convention)
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
        for j, i in enumerate(ids):
            infos[i] = {"agents": agent_infos[j]}
        if len(finished):
            self.done[finished] = True
            for a in self.agents:
                self.active[a][finished] = False
            for i in finished:
                infos[i]["episode"] = episode_summary(self, i, self.params[i])
            if self.autoreset:
                for i in finished:
                    infos[i]["final_observation"] = {a: self._obs[a][i].copy() for a in self.agents}
                    infos[i]["final_info"] = infos[i]["agents"]
                self._reset_ids(list(finished), [None] * len(finished))
                for i in finished:
                    infos[i]["reset_info"] = self._reset_info(i)
        return (self._observations(), rewards, {a: terminated.copy() for a in self.agents},
                {a: truncated.copy() for a in self.agents}, infos)

    def physics_state(self) -> np.ndarray:
        """Each simulation's ``mjSTATE_FULLPHYSICS`` rows (N, nstate), for planners."""
        n = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        return self.batch.state[:, :n].copy()  # time, qpos, qvel, act lead the integration state

    @property
    def copies(self) -> list[Any]:
        """Per-copy attribute holders (for SB3's get_attr); the simulations live in the batch."""
        return [SimpleNamespace(render_mode=None, params=self.params[i]) for i in range(self.num_envs)]

    def close(self) -> None:
        """Release the template env."""
        self.template.close()
