"""The batched particle backend: N of mpe2's worlds stepped as arrays, with VectorScenario's interface.

Physics is ``scenarios.batch.particles`` (mpe2's ``World.step`` over N worlds), observations,
rewards and terminations are ``scenarios.batch.mpe_tasks``; each copy resets through mpe2's
own ``reset_world`` with its own Gymnasium-compatible generator, so copy ``i`` seeded ``s + i``
starts where mpe2 reset with seed ``s + i`` starts, and from the same state the same actions
give mpe2's observations, rewards and flags (``tests/test_particle_batch.py``). Layers run
through the shared batch-first stack (``scenarios.batch.layered``): observation, action and
reward layers over the copies stepped, ``mpe_dynamics`` writing each copy's masses,
accelerations, speed caps, sizes and damping, and per-copy sub-stacks for grids.

It is the default vectorized face of the ``mpe/`` scenarios it implements
(``backend="auto"``); ``backend="gymnasium"`` selects copies of the mpe2 env instead. An
mpe2 argument it does not implement is refused in one line naming it
(``mpe_tasks.unsupported``), and ``auto`` falls back to the mpe2 face for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scenarios.batch.layered import Context, LayeredBatch
from scenarios.batch.mpe_tasks import TASKS, scenario_name, unsupported
from scenarios.batch.particles import ActionMap, ParticleWorlds
from scenarios.errors import UserError
from scenarios.scenario import Scenario
from scenarios.spec import LayerSpec, ScenarioSpec


class ParticleRows:
    """The per-copy physical parameters of some copies of a ``ParticleWorlds`` (all when ``rows`` is None),
    as ``mpe_dynamics`` reads and writes them: local copy ``k`` is row ``rows[k]``."""

    FIELDS = ("mass", "accel", "max_speed", "size", "damping")

    def __init__(self, worlds: ParticleWorlds, rows: np.ndarray | None = None) -> None:
        self.worlds, self.rows = worlds, rows
        self.entities = list(worlds.names)
        self.agents = self.entities[: worlds.n_agents]
        self._nominal = {f: np.array(getattr(worlds, f)[0], copy=True) for f in self.FIELDS}

    def nominal(self, field: str, names: list[str]) -> np.ndarray:
        """The values the batch was built with (mpe2's), for ``names`` (entities, or ``['damping']``)."""
        if field == "damping":
            return np.array([float(self._nominal["damping"])])
        pool = self.agents if field == "accel" else self.entities
        return self._nominal[field][[pool.index(n) for n in names]]

    def write(self, field: str, names: list[str], ids: np.ndarray, values: np.ndarray) -> None:
        """Copies ``ids`` (local) take ``values`` ``(len(ids), len(names))`` for ``field``."""
        rows = np.asarray(ids, np.int64) if self.rows is None else self.rows[np.asarray(ids, np.int64)]
        target = getattr(self.worlds, field)
        if field == "damping":
            target[rows] = values[:, 0]
            return
        pool = self.agents if field == "accel" else self.entities
        target[np.ix_(rows, [pool.index(n) for n in names])] = values


def particle_unsupported(spec: ScenarioSpec) -> str | None:
    """Why the batched particle backend cannot run ``spec`` (None when it can)."""
    if scenario_name(spec.source) is None:
        return f"the batched particle backend runs mpe2's scenarios, not {spec.source}"
    return unsupported(spec.source, dict(spec.kwargs))


class ParticleVectorScenario(LayeredBatch):
    """``num_envs`` copies of an ``mpe/`` scenario as arrays, with VectorScenario's interface.

    >>> import numpy as np, scenarios
    >>> vec = scenarios.make("mpe/simple_spread-v3").vector(1024, seed=0)
    >>> vec.backend
    'batch'
    >>> obs, _ = vec.reset()
    >>> obs, rew, term, trunc, infos = vec.step({a: np.zeros(1024, np.int64) for a in vec.agents})
    >>> obs["agent_0"].shape
    (1024, 18)
    """

    backend = "batch"

    def __init__(self, spec: ScenarioSpec, num_envs: int, seed: int | None = None, autoreset: bool = True,
                 copy_layers: Sequence[Sequence[LayerSpec]] | None = None) -> None:
        """``copy_layers[i]`` (optional) adds layers to copy ``i`` only (after the spec's): one batch, many worlds."""
        reason = particle_unsupported(spec)
        if reason:
            raise UserError(f"{spec.id}: {reason} (backend='gymnasium' runs it on mpe2)")
        if num_envs < 1:
            raise UserError(f"num_envs must be at least 1 (got {num_envs})")
        self.template = Scenario(spec)  # validates the spec and its layers, and holds the mpe2 env
        env = self.template.source.unwrapped
        self.spec, self.id, self.num_envs, self.seed, self.autoreset = spec, spec.id, num_envs, seed, autoreset
        self.world = env.world
        self.worlds = ParticleWorlds(self.world, num_envs)
        self.task = TASKS[str(scenario_name(spec.source))](env, num_envs)
        self.actions = ActionMap(self.world, bool(env.continuous_actions))
        self.agents = list(self.template.possible_agents)
        if self.agents != [a.name for a in self.world.agents]:
            raise UserError(f"{spec.id}: agents {self.agents} do not match the mpe2 world's")
        self.time_limit = self.template.time_limit
        self.action_spaces = {a: self.template.action_space(a) for a in self.agents}
        act_spaces = {a: self.template.source.action_space(a) for a in self.agents}
        obs_spaces = {a: self.template.source.observation_space(a) for a in self.agents}
        self._init_layers(obs_spaces, act_spaces, copy_layers,
                          Context(spec, num_envs, None, obs_spaces, act_spaces, particles=ParticleRows(self.worlds)),
                          lambda idx, obs, act: Context(spec, len(idx), None, obs, act, particles=ParticleRows(self.worlds, idx)))

    def _restart(self, ids: list[int], idx: np.ndarray) -> dict[str, np.ndarray]:
        w, task = self.worlds, self.task
        picks = np.zeros((len(ids), len(task.choices)), np.int64)
        for j, i in enumerate(ids):
            picks[j], w.pos[i] = task.draw(self._rngs[i])
        w.vel[idx] = 0.0
        w.c[idx] = 0.0
        task.episode(idx, picks)
        obs = task.observe(w)
        return {a: obs[k][idx].astype(np.float32) for k, a in enumerate(self.agents)}

    def _advance(self, ids: np.ndarray, actions: dict[str, np.ndarray],
                 all_running: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        w = self.worlds
        u, c = self.actions([actions[a] for a in self.agents], w.accel if all_running else w.accel[ids])
        w.step(u, c, None if all_running else ids)
        obs, rew, term = self.task.observe(w), self.task.rewards(w), self.task.terminal(w)
        if all_running:
            return ({a: obs[k].astype(np.float32) for k, a in enumerate(self.agents)},
                    {a: rew[:, k] for k, a in enumerate(self.agents)}, term)
        return ({a: obs[k][ids].astype(np.float32) for k, a in enumerate(self.agents)},
                {a: rew[ids, k] for k, a in enumerate(self.agents)}, term[ids])

    def close(self) -> None:
        """Release the template env."""
        self.template.close()
