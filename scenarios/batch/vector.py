"""The batched MuJoCo backend: N simulations in ``mujoco.batch``, task logic in NumPy.

Stepping runs in C on a thread pool (``mujoco.batch.Batch``, bit-identical to
``mj_step`` per simulation); observations, rewards, terminations and resets
are the vectorized Gymnasium v5 task logic of ``scenarios.batch.tasks``. Each
copy resets with its own Gymnasium-compatible generator, so copy ``i`` seeded
``s + i`` starts exactly where the Gymnasium-backed face starts.

Dynamics layers run per simulation: every copy has its own layer instances
(seeded like a Scenario's) that write into that simulation's row of the
batch's per-simulation model fields, followed by ``set_const`` for the copies
whose masses or sizes changed. One batch therefore covers a whole grid or a
randomized population. Other layer types need a per-copy MjData or Python
hooks per step and run on the Gymnasium-backed face instead (``backend="auto"``
chooses it for them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import mujoco
import numpy as np
from gymnasium.utils import seeding
from mujoco import batch as mjbatch

from scenarios.batch.tasks import TASKS, Fields, prepare
from scenarios.errors import UserError
from scenarios.layers import build_layers
from scenarios.layers.mujoco_model import MujocoHandle
from scenarios.scenario import Scenario
from scenarios.spec import LayerSpec, ScenarioSpec
from scenarios.vector import episode_summary, reset_seeds

AGENT = "agent_0"


def unsupported_reason(spec: ScenarioSpec) -> str | None:
    """Why the batched backend cannot run ``spec`` (None when it can)."""
    kind, _, name = spec.source.partition(":")
    if kind != "gymnasium" or name not in TASKS:
        return f"the batched backend supports {', '.join(sorted(TASKS))}, not {spec.source}"
    other = sorted({layer.type for layer in spec.layers if layer.type != "dynamics"})
    if other:
        return f"the batched backend runs dynamics layers only, not {', '.join(other)}"
    return None


class _Row:
    """One simulation's rows of the batch's per-simulation model fields, with MjModel's attribute names."""

    def __init__(self, expanded: dict[str, np.ndarray], i: int) -> None:
        for name, arr in expanded.items():
            if not name.startswith("opt."):
                setattr(self, name, arr[i])
        self.opt = _OptRow({k[4:]: v for k, v in expanded.items() if k.startswith("opt.")}, i)


class _OptRow:
    def __init__(self, arrays: dict[str, np.ndarray], i: int) -> None:
        object.__setattr__(self, "_rows", {k: (v[i : i + 1] if v.ndim == 1 else v[i]) for k, v in arrays.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        return self._rows[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self._rows[name][...] = value


class BatchVectorScenario:
    """``num_envs`` copies of a MuJoCo scenario on ``mujoco.batch``, with VectorScenario's interface.

    >>> import numpy as np, scenarios
    >>> vec = scenarios.make("mujoco/HalfCheetah-v5").vector(64, seed=0)
    >>> vec.backend
    'batch'
    >>> obs, _ = vec.reset()
    >>> obs, rew, term, trunc, infos = vec.step({"agent_0": np.zeros((64, 6), np.float32)})
    """

    backend = "batch"
    has_cost = False

    def __init__(self, spec: ScenarioSpec, num_envs: int, seed: int | None = None, autoreset: bool = True,
                 nthread: int | None = None, copy_layers: Sequence[Sequence[LayerSpec]] | None = None) -> None:
        """``copy_layers[i]`` (optional) adds dynamics layers to copy ``i`` only: one batch, many worlds."""
        reason = unsupported_reason(spec)
        if reason:
            raise UserError(f"{spec.id}: {reason}")
        if num_envs < 1:
            raise UserError(f"num_envs must be at least 1 (got {num_envs})")
        self.template = Scenario(spec)  # validates the spec and its layers, and holds the Gymnasium env
        env = self.template.unwrapped
        self.spec, self.id, self.num_envs, self.seed, self.autoreset = spec, spec.id, num_envs, seed, autoreset
        self.task = TASKS[spec.source.partition(":")[2]]
        self.p = prepare(self.task, env)
        self.model = env.model
        self.frame_skip = int(env.frame_skip)
        self.agents = [AGENT]
        self.time_limit = self.template.time_limit
        self.observation_spaces = {AGENT: self.template.observation_space(AGENT)}
        self.action_spaces = {AGENT: self.template.action_space(AGENT)}
        threads = nthread if nthread is not None else min(os.cpu_count() or 1, num_envs)
        self.batch = mjbatch.Batch(self.model, num_envs, nthread=threads, persistent=self.task.needs_rne)
        self._fields = Fields(qpos=self.batch.bind("qpos"), qvel=self.batch.bind("qvel"),
                              **{name: self.batch.bind(name) for name in self.task.outputs})
        self._ctrl = self.batch.bind("ctrl")
        if self.task.needs_rne:
            self._fields.cfrc_ext = np.zeros((num_envs, self.model.nbody, 6))
            self._scratch = mujoco.MjData(self.model)
        extra = list(copy_layers) if copy_layers is not None else [[] for _ in range(num_envs)]
        if len(extra) != num_envs:
            raise ValueError(f"copy_layers has {len(extra)} entries for {num_envs} copies")
        for layers in extra:
            reason = unsupported_reason(spec.model_copy(update={"layers": list(layers)}))
            if reason:
                raise UserError(f"{spec.id}: {reason}")
        self._layers = [build_layers([*spec.layers, *extra[i]]) for i in range(num_envs)]
        handle = MujocoHandle(env=env, model=self.model, data=env.data, frame_skip=self.frame_skip)
        written: set[str] = set()
        for layers in self._layers:
            for layer in layers:
                layer.bind_handle(handle)
                written |= layer.fields()
        self._rows = [_Row({f: self.batch.expand(f) for f in sorted(written)}, i) for i in range(num_envs)] if written else []
        self._needs_const = any(layer.needs_const for layers in self._layers for layer in layers)
        self._has_interval = any(layer.p.mode == "interval" for layers in self._layers for layer in layers)
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self.params: list[dict[str, Any]] = [{} for _ in range(num_envs)]
        self._obs = np.zeros((num_envs, *self.observation_spaces[AGENT].shape))
        self.active = {AGENT: np.zeros(num_envs, bool)}
        self.done = np.ones(num_envs, bool)
        self.episode_returns = {AGENT: np.zeros(num_envs)}
        self.episode_lengths = np.zeros(num_envs, np.int64)
        self.episode_costs = np.zeros(num_envs)
        self._ep_terminated = np.zeros(num_envs, bool)
        self._reset_once = False
        if mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_FULLPHYSICS) != 1 + self.model.nq + self.model.nv + self.model.na:
            raise UserError(f"{spec.id}: the batched backend expects no actuator history or plugin state")

    # -- dynamics ----------------------------------------------------------
    def _resample(self, ids: Sequence[int], at_reset: bool) -> None:
        changed = []
        for i in ids:
            for layer in self._layers[i]:
                if at_reset and layer.p.mode == "startup" and layer._drawn:
                    continue
                if not at_reset and layer.p.mode != "interval":
                    continue
                layer.values = layer.write(self._rows[i])
                layer._drawn = True
                changed.append(i)
            self.params[i] = {k: v for layer in self._layers[i] for k, v in layer.values.items()}
        if changed and self._needs_const:
            self.batch.set_const(np.unique(changed))

    # -- reset -------------------------------------------------------------
    def _seeds(self, seed: int | Sequence[int] | None, count: int) -> list[int | None]:
        return reset_seeds(seed, count, None if self._reset_once else self.seed)

    def _reset_ids(self, ids: list[int], seeds: list[int | None]) -> None:
        for i, s in zip(ids, seeds):
            if s is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(s)[0]
                for k, layer in enumerate(self._layers[i]):
                    layer.seed(s, k)
        if self._rows:
            self._resample(ids, at_reset=True)
        idx = np.asarray(ids)
        self.batch.reset(idx, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in ids:
            qpos, qvel = self.task.reset(self.p, self._rngs[i])
            self._fields.qpos[i] = qpos
            self._fields.qvel[i] = qvel
        self.batch.forward(idx)
        if self.task.needs_rne:
            self._fields.cfrc_ext[idx] = 0.0  # Gymnasium's reset runs mj_forward only: cfrc_ext stays zero
        self._obs[idx] = self.task.obs(self.p, self._fields)[idx]
        self.active[AGENT][idx] = True
        self.episode_returns[AGENT][idx] = 0.0
        self.episode_lengths[idx] = 0
        self._ep_terminated[idx] = False
        self.done[idx] = False

    def reset(self, seed: int | Sequence[int] | None = None, indices: Sequence[int] | None = None,
              options: dict | None = None) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Reset all copies (or ``indices``); an int seed gives copy ``indices[j]`` seed ``seed + j``."""
        ids = list(range(self.num_envs)) if indices is None else [int(i) for i in indices]
        seeds = self._seeds(seed, len(ids))
        self._reset_once = True
        self._reset_ids(ids, seeds)
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        for i in ids:
            infos[i] = {"agents": {AGENT: {"layers": self.params[i]} if self._rows else {}}}
        return {AGENT: self._obs.copy()}, infos

    # -- step --------------------------------------------------------------
    def step(self, actions: dict[str, np.ndarray]) -> tuple[dict, dict, dict, dict, list[dict]]:
        """Step every running copy with row ``i`` of the action array."""
        n = self.num_envs
        action = np.asarray(actions[AGENT])
        running = ~self.done
        all_running = bool(running.all())
        ids = None if all_running else np.flatnonzero(running)
        infos: list[dict] = [{} for _ in range(n)]
        if ids is not None and len(ids) == 0:
            zeros = np.zeros(n, bool)
            return {AGENT: self._obs.copy()}, {AGENT: np.zeros(n)}, {AGENT: zeros}, {AGENT: zeros.copy()}, infos
        if self._has_interval:
            due = [i for i in (range(n) if ids is None else ids)
                   if any(x.p.mode == "interval" and (self.episode_lengths[i] + 1) % x.p.interval == 0 for x in self._layers[i])]
            if due:
                self._resample(due, at_reset=False)
        before = self.task.before(self.p, self._fields)
        if ids is None:
            self._ctrl[:] = action
        else:
            self._ctrl[ids] = action[ids]
        self.batch.step(ids, nstep=self.frame_skip)
        if self.task.needs_rne:
            for i in range(n) if ids is None else ids:
                self.batch.get_data(int(i), self._scratch)
                mujoco.mj_rnePostConstraint(self.model, self._scratch)
                self._fields.cfrc_ext[i] = self._scratch.cfrc_ext
        obs = self.task.obs(self.p, self._fields)
        reward, terminated = self.task.reward(self.p, self._fields, before, action)
        self.episode_lengths[running] += 1
        truncated = np.zeros(n, bool)
        if self.time_limit is not None:
            truncated = (self.episode_lengths >= self.time_limit) & ~terminated
        reward = np.where(running, reward, 0.0)
        terminated &= running
        truncated &= running
        self._obs[running] = obs[running]
        self.episode_returns[AGENT] += reward
        self._ep_terminated |= terminated
        finished = np.flatnonzero(terminated | truncated)
        for i in np.flatnonzero(running):
            infos[i] = {"agents": {AGENT: {}}}
        if len(finished):
            self.done[finished] = True
            self.active[AGENT][finished] = False
            for i in finished:
                infos[i]["episode"] = episode_summary(self, i, self.params[i])
            if self.autoreset:
                for i in finished:
                    infos[i]["final_observation"] = {AGENT: self._obs[i].copy()}
                    infos[i]["final_info"] = infos[i]["agents"]
                self._reset_ids(list(finished), [None] * len(finished))
        return {AGENT: self._obs.copy()}, {AGENT: reward}, {AGENT: terminated}, {AGENT: truncated}, infos

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
