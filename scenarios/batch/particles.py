"""N of mpe2's particle worlds stepped together: ``mpe2._mpe_utils.core.World.step`` as array operations.

mpe2 steps one world at a time in Python, entity by entity and pair by pair (a few
thousand team steps per second here). This holds the state of N worlds as arrays with
the copy index first - positions and velocities ``(N, entities, 2)``, utterances
``(N, agents, dim_c)`` - and every entity property a layer may randomize per copy
(``mass``, ``size``, ``max_speed``, ``accel``, ``damping``) as ``(N, ...)`` arrays read from
the mpe2 world it was built from. The arithmetic is mpe2's, in its order: agents' action
forces, the soft contact force ``contact_force * delta / dist * k * logaddexp(0,
-(dist - dist_min) / k)`` for every colliding pair, then per movable entity ``pos += vel *
dt``, ``vel *= 1 - damping``, ``vel += force / mass * dt`` and the speed cap; utterances are
the communication actions (zeros for silent agents). Only the summation order of the
contact forces differs (one product with the pair-incidence matrix), so results agree
with mpe2 to rounding (``tests/test_particle_batch.py``: 1e-6 over whole episodes).

Not modelled, and refused where a scenario turns them on: motor and communication noise
(``u_noise``, ``c_noise``: mpe2 draws them from NumPy's global generator) and scripted
agents (``action_callback``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.errors import UserError

MOVE = 5
"""Entries of a movable agent's physical action: no-op, -x, +x, -y, +y."""


class ParticleWorlds:
    """The state and per-copy physical parameters of N worlds shaped like the mpe2 ``world``."""

    def __init__(self, world: Any, n: int) -> None:
        agents, entities = list(world.agents), list(world.agents) + list(world.landmarks)
        for a in agents:
            if a.u_noise or a.c_noise or a.action_callback is not None:
                raise UserError(f"the batched particle backend does not model motor/communication noise or scripted "
                                f"agents ({a.name}); use backend='gymnasium'")
        self.n, self.n_agents, self.n_entities = n, len(agents), len(entities)
        self.dim_c, self.dt = int(world.dim_c), float(world.dt)
        self.contact_force, self.contact_margin = float(world.contact_force), float(world.contact_margin)
        self.names = [e.name for e in entities]
        self.movable = np.array([bool(e.movable) for e in entities])
        self.collide = np.array([bool(e.collide) for e in entities])
        self.silent = np.array([bool(a.silent) for a in agents])
        self.moving = np.flatnonzero(self.movable)
        self.damping = np.full(n, float(world.damping))
        self.mass = np.tile(np.array([float(e.mass) for e in entities]), (n, 1))
        self.size = np.tile(np.array([float(e.size) for e in entities]), (n, 1))
        self.max_speed = np.tile(np.array([np.inf if e.max_speed is None else float(e.max_speed) for e in entities]), (n, 1))
        self.accel = np.tile(np.array([5.0 if a.accel is None else float(a.accel) for a in agents]), (n, 1))
        self.pos = np.zeros((n, self.n_entities, 2))
        self.vel = np.zeros((n, self.n_entities, 2))
        self.c = np.zeros((n, self.n_agents, self.dim_c))
        pairs = [(a, b) for a in range(self.n_entities) for b in range(a + 1, self.n_entities)
                 if self.collide[a] and self.collide[b] and (self.movable[a] or self.movable[b])]
        self.pair_a = np.array([p[0] for p in pairs], np.int64)
        self.pair_b = np.array([p[1] for p in pairs], np.int64)
        incidence = np.zeros((len(pairs), self.n_entities))  # force on entity e = sum_p incidence[p, e] * f_p
        for k, (a, b) in enumerate(pairs):
            incidence[k, a] = 1.0 if self.movable[a] else 0.0
            incidence[k, b] = -1.0 if self.movable[b] else 0.0
        self.incidence = incidence[:, self.moving]

    def step(self, u: np.ndarray, c: np.ndarray, rows: np.ndarray | None = None) -> None:
        """One ``World.step`` of the copies ``rows`` (all when None) under action forces ``u`` ``(rows, agents, 2)``
        (sensitivity applied) and utterances ``c`` ``(rows, agents, dim_c)``."""
        sel = slice(None) if rows is None else rows
        pos, vel = self.pos[sel], self.vel[sel]
        mv = self.moving
        force = np.zeros((len(pos), len(mv), 2))
        agent_cols = mv < self.n_agents
        force[:, agent_cols] = u[:, mv[agent_cols]]
        if len(self.pair_a):
            delta = pos[:, self.pair_a] - pos[:, self.pair_b]
            dist = np.sqrt(delta[..., 0] * delta[..., 0] + delta[..., 1] * delta[..., 1])
            size = self.size[sel]
            dist_min = size[:, self.pair_a] + size[:, self.pair_b]
            k = self.contact_margin
            penetration = np.logaddexp(0, -(dist - dist_min) / k) * k
            f = self.contact_force * delta / dist[..., None] * penetration[..., None]
            force += np.matmul(f.transpose(0, 2, 1), self.incidence).transpose(0, 2, 1)
        p, v = pos[:, mv], vel[:, mv]
        p += v * self.dt
        v = v * (1 - self.damping[sel])[:, None, None]
        v += force / self.mass[sel][:, mv, None] * self.dt
        speed = np.sqrt(np.square(v[..., 0]) + np.square(v[..., 1]))
        cap = self.max_speed[sel][:, mv]
        over = speed > cap
        if over.any():
            v = np.where(over[..., None], v / np.where(over, speed, 1.0)[..., None] * np.where(over, cap, 1.0)[..., None], v)
        if rows is None:
            self.pos[:, mv], self.vel[:, mv] = p, v
            self.c[:] = np.where(self.silent[None, :, None], 0.0, c)
        else:
            self.pos[np.ix_(rows, mv)], self.vel[np.ix_(rows, mv)] = p, v
            self.c[rows] = np.where(self.silent[None, :, None], 0.0, c)

    def distance(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """``sqrt(sum((pos[a] - pos[b])^2))`` per copy (entity indices broadcast)."""
        d = self.pos[:, a] - self.pos[:, b]
        x, y = d[..., 0], d[..., 1]
        return np.sqrt(x * x + y * y)  # = sqrt(sum(square(d))) for two components, as mpe2 computes it

    def colliding(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """mpe2's ``is_collision``: distance below the sum of the two sizes, per copy."""
        return self.distance(a, b) < self.size[:, a] + self.size[:, b]


class ActionMap:
    """mpe2's ``SimpleEnv._set_action`` over arrays: each agent's discrete or continuous actions to its
    force (times its sensitivity ``accel``, 5 where unset) and utterance."""

    def __init__(self, world: Any, continuous: bool) -> None:
        self.continuous = continuous
        self.movable = [bool(a.movable) for a in world.agents]
        self.silent = [bool(a.silent) for a in world.agents]
        self.dim_c = int(world.dim_c)

    def __call__(self, actions: list[np.ndarray], accel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``actions[k]``: agent k's actions for the copies stepped; ``accel``: their sensitivities ``(rows, agents)``."""
        rows = len(actions[0])
        u = np.zeros((rows, len(actions), 2))
        c = np.zeros((rows, len(actions), self.dim_c))
        for k, act in enumerate(actions):
            if self.continuous:
                a = np.clip(np.asarray(act, np.float32), np.float32(0), np.float32(1))  # mpe2's ClipOutOfBoundsWrapper
                rest = a
                if self.movable[k]:
                    u[:, k, 0] = a[:, 2] - a[:, 1]  # float32 differences, as mpe2 computes them
                    u[:, k, 1] = a[:, 4] - a[:, 3]
                    rest = a[:, MOVE:]
                if not self.silent[k]:
                    c[:, k] = rest[:, : self.dim_c]
            else:
                a = np.asarray(act, np.int64).reshape(rows)
                rest = a
                if self.movable[k]:
                    m = a % MOVE
                    u[:, k, 0] = (m == 2).astype(np.float64) - (m == 1)
                    u[:, k, 1] = (m == 4).astype(np.float64) - (m == 3)
                    rest = a // MOVE
                if not self.silent[k]:
                    c[np.arange(rows), k, rest] = 1.0
            if self.movable[k]:
                u[:, k] *= accel[:, k, None]
        return u, c
