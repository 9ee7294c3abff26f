"""MaMuJoCo's per-agent observations as gathers from the batched state.

MaMuJoCo builds each agent's observation with ``obsk.build_obs`` from one MjData:
the ``qpos``/``qvel``/``qfrc_actuator`` entries of the joints in its k-neighbourhood,
body rows of ``cinert``/``cvel``/``cfrc_ext``, the global nodes, and per-node
``extra_obs``/``body_fn`` functions that clip some entries (Hopper's velocities to
+-10, Ant's contact forces to +-1). Its state-to-observation mapping indexes the
single-agent observation, which clips differently (Walker2d's observation clips
every velocity, MaMuJoCo's does not), so the batch cannot reuse it.

Here each agent's observation is a gather ``clip(raw[:, index], low, high)`` from
the raw row ``[qpos, qvel, cinert, cvel, qfrc_actuator, cfrc_ext]`` of every
simulation. ``index``, ``low`` and ``high`` are found once by running MaMuJoCo's own
``build_obs`` on probe data (small distinct markers, then large values of each sign),
and the result is checked against ``build_obs`` on the env's real data; a
factorization whose functions are not such a gather is refused in one line (the
Gymnasium-copies face runs it). No library exposes the observation as a gather,
hence this module.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from scenarios.errors import UserError

FIELDS = ("qpos", "qvel", "cinert", "cvel", "qfrc_actuator", "cfrc_ext")
_STEP = 1e-7  # marker spacing: every marker stays inside the tightest clip (+-1)
_BIG = 1e6


class LocalObservations:
    """Per-agent gathers from the raw batched state, found from MaMuJoCo's ``build_obs``."""

    def __init__(self, env: Any, model: Any, spec_id: str) -> None:
        from gymnasium_robotics.envs.multiagent_mujoco.obsk import build_obs

        self.shapes = {"qpos": (model.nq,), "qvel": (model.nv,), "cinert": (model.nbody, 10), "cvel": (model.nbody, 6),
                       "qfrc_actuator": (model.nv,), "cfrc_ext": (model.nbody, 6)}
        sizes = [int(np.prod(self.shapes[f])) for f in FIELDS]
        self.offsets = dict(zip(FIELDS, np.cumsum([0, *sizes[:-1]])))
        total = int(sum(sizes))
        self._build = lambda data, k: build_obs(data, env.k_dicts[k], env.local_categories, env.mujoco_globals,
                                                env.global_categories)
        markers = (np.arange(total) + 1) * _STEP
        self.index: dict[str, np.ndarray] = {}
        self.low: dict[str, np.ndarray] = {}
        self.high: dict[str, np.ndarray] = {}
        for k, agent in enumerate(env.possible_agents):
            probe = np.asarray(self._build(self._data(markers), k), float)
            index = np.rint(probe / _STEP).astype(np.int64) - 1
            if (index < 0).any() or (index >= total).any() or not np.allclose((index + 1) * _STEP, probe, rtol=0, atol=_STEP / 4):
                raise UserError(f"{spec_id}: MaMuJoCo's observation of {agent} is not a gather of the state "
                                f"(use backend='gymnasium')")
            high = np.asarray(self._build(self._data(np.full(total, _BIG)), k), float)
            low = np.asarray(self._build(self._data(np.full(total, -_BIG)), k), float)
            self.index[agent] = index
            self.high[agent] = np.where(high < _BIG, high, np.inf)
            self.low[agent] = np.where(low > -_BIG, low, -np.inf)
        used = np.unique(np.concatenate(list(self.index.values()))) if self.index else np.zeros(0, np.int64)
        self.fields = tuple(f for f, size in zip(FIELDS, sizes)
                            if size and ((used >= self.offsets[f]) & (used < self.offsets[f] + size)).any())
        """The state fields some agent observes (``cfrc_ext`` needs ``mj_rnePostConstraint`` per step)."""
        self._total = total
        self._check(env, spec_id)

    def _data(self, flat: np.ndarray) -> SimpleNamespace:
        out = {}
        for f in FIELDS:
            size = int(np.prod(self.shapes[f]))
            out[f] = flat[self.offsets[f] : self.offsets[f] + size].reshape(self.shapes[f])
        return SimpleNamespace(**out)

    def _check(self, env: Any, spec_id: str) -> None:
        data = env.single_agent_env.unwrapped.data
        got = self.observe({f: np.asarray(getattr(data, f), float)[None] for f in FIELDS}, 1)
        for k, agent in enumerate(env.possible_agents):
            want = np.asarray(self._build(data, k), float)
            if not np.allclose(got[agent][0], want, rtol=0, atol=1e-12):
                raise UserError(f"{spec_id}: MaMuJoCo's observation of {agent} is not reproduced by a gather "
                                f"(use backend='gymnasium')")

    def observe(self, state: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """Each agent's observations from the raw state rows ``state[field]``, ``(n, *shape)``."""
        raw = np.zeros((n, self._total))
        for f in self.fields:
            raw[:, self.offsets[f] : self.offsets[f] + int(np.prod(self.shapes[f]))] = state[f].reshape(n, -1)
        return {a: np.clip(raw[:, idx], self.low[a], self.high[a]) for a, idx in self.index.items()}
