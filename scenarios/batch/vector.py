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

import os
from collections.abc import Sequence

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from scenarios.batch.layered import Context, LayeredBatch
from scenarios.batch.mamujoco_obs import LocalObservations
from scenarios.batch.tasks import TASKS, Fields, prepare
from scenarios.errors import UserError
from scenarios.instability import clock_reset
from scenarios.layers.mujoco_model import find_mujoco
from scenarios.layers.physics import BatchPhysics, PhysicsSubset
from scenarios.scenario import Scenario
from scenarios.spec import LayerSpec, ScenarioSpec

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


class BatchVectorScenario(LayeredBatch):
    """``num_envs`` copies of a MuJoCo scenario on ``mujoco.batch``, with VectorScenario's interface.

    >>> import numpy as np, scenarios
    >>> vec = scenarios.make("mujoco/HalfCheetah-medium-v0").vector(64, seed=0)
    >>> vec.backend
    'batch'
    >>> obs, _ = vec.reset()
    >>> obs, rew, term, trunc, infos = vec.step({"agent_0": np.zeros((64, 6), np.float32)})
    """

    backend = "batch"
    physics_checked = True

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
        self._timestep = float(self.model.opt.timestep)
        self.agents = list(self.template.possible_agents)
        self.time_limit = self.template.time_limit
        self.action_spaces = {a: self.template.action_space(a) for a in self.agents}
        self._local, self._act_ids = self._factorization(spec)
        self._rne = self.task.needs_rne or (self._local is not None and "cfrc_ext" in self._local.fields)
        threads = nthread if nthread is not None else min(os.cpu_count() or 1, num_envs)
        self.batch = mjbatch.Batch(self.model, num_envs, nthread=threads, persistent=self._rne)
        outputs = set(self.task.outputs) | ({f for f in self._local.fields if f not in ("qpos", "qvel", "cfrc_ext")}
                                            if self._local is not None else set())
        self._derived = {name: self.batch.bind(name) for name in sorted(outputs)}
        """The simulations' derived fields (read-only bindings, recomputed by MuJoCo's forward pass). The task
        reads writable copies in ``_fields``, refreshed after every step and reset: a restored training
        state brings those back, so a resumed run's next step (``before``: Ant's torso x, Humanoid's
        mass centre) reads what the uninterrupted run read, which MuJoCo's own state does not hold."""
        self._fields = Fields(qpos=self.batch.bind("qpos"), qvel=self.batch.bind("qvel"),
                              **{name: np.array(view) for name, view in self._derived.items()})
        self._ctrl = self.batch.bind("ctrl")
        if self._rne:
            self._fields.cfrc_ext = np.zeros((num_envs, self.model.nbody, 6))
            self._scratch = mujoco.MjData(self.model)
        self.physics = BatchPhysics(self.batch, handle)
        act_spaces = {a: self.template.source.action_space(a) for a in self.agents}
        obs_spaces = {a: self.template.source.observation_space(a) for a in self.agents}
        self._init_layers(obs_spaces, act_spaces, copy_layers, Context(spec, num_envs, self.physics, obs_spaces, act_spaces),
                          lambda idx, obs, act: Context(spec, len(idx), PhysicsSubset(self.physics, idx), obs, act))
        expanded = self.physics.expanded("body_mass")
        self._fields.body_mass = expanded if expanded is not None else np.broadcast_to(self.model.body_mass, (num_envs, self.model.nbody))
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

    def _restart(self, ids: list[int], idx: np.ndarray) -> dict[str, np.ndarray]:
        self.batch.reset(idx, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in ids:
            qpos, qvel = self.task.reset(self.p, self._rngs[i])
            self._fields.qpos[i] = qpos
            self._fields.qvel[i] = qvel
        self.batch.forward(idx)
        self._refresh(idx)
        if self._rne:
            self._fields.cfrc_ext[idx] = 0.0  # Gymnasium's reset runs mj_forward only: cfrc_ext stays zero
        return self._split(self.task.obs(self.p, self._fields)[idx], idx)

    def _advance(self, ids: np.ndarray, actions: dict[str, np.ndarray],
                 all_running: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        n = self.num_envs
        joint = self._join(actions, len(ids))
        before = self.task.before(self.p, self._fields)
        if all_running:
            self._ctrl[:] = joint
            full = joint
        else:
            self._ctrl[ids] = joint
            full = np.zeros((n, *np.shape(joint)[1:]), np.float64)
            full[ids] = joint
        clock = self.batch.state[ids, 0]
        self.batch.step(None if all_running else ids, nstep=self.frame_skip)
        self._refresh(None if all_running else ids)
        self._unstable[ids] |= clock_reset(clock, self.batch.state[ids, 0], self.frame_skip, self._timestep)
        if self._rne:
            for i in ids:
                self.batch.get_data(int(i), self._scratch)
                mujoco.mj_rnePostConstraint(self.model, self._scratch)
                self._fields.cfrc_ext[i] = self._scratch.cfrc_ext
        task_obs = self.task.obs(self.p, self._fields)
        reward, terminated = self.task.reward(self.p, self._fields, before, full)
        rew_ids = {a: reward[ids] for a in self.agents}  # every agent gets the team reward (MaMuJoCo's convention)
        return self._split(task_obs[ids], ids), rew_ids, terminated[ids]

    def _refresh(self, rows: np.ndarray | None) -> None:
        """Copy the derived fields of ``rows`` (None: every simulation) into the task's writable ``_fields``."""
        for name, view in self._derived.items():
            if rows is None:
                np.copyto(getattr(self._fields, name), view)
            else:
                getattr(self._fields, name)[rows] = view[rows]

    def physics_state(self) -> np.ndarray:
        """Each simulation's ``mjSTATE_FULLPHYSICS`` rows (N, nstate), for planners."""
        n = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        return self.batch.state[:, :n].copy()  # time, qpos, qvel, act lead the integration state

    def close(self) -> None:
        """Release the template env."""
        self.template.close()
