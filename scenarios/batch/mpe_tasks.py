"""mpe2's scenarios over N worlds: observations, rewards and terminations as array operations.

Each task mirrors one ``mpe2.<name>.Scenario`` (``observation``, ``reward``, ``global_reward``
mixed by ``local_ratio`` as ``SimpleEnv`` does, ``is_terminal``) over the arrays of
``scenarios.batch.particles.ParticleWorlds``. Resets are mpe2's own: each copy runs the
scenario's ``reset_world`` on a template world with the copy's generator and the batch copies
the resulting state, so the reset distribution is mpe2's by construction; a task keeps what
else an episode draws (goal landmarks, keys) through ``episode``.

The world's shape (numbers of agents, adversaries, landmarks, obstacles) is read from the
template, so constructor arguments such as ``N``, ``num_good``, ``num_adversaries``,
``num_obstacles``, ``local_ratio``, ``max_cycles``, ``continuous_actions`` and
``terminate_on_success`` carry over. What the batch does not implement is refused by
``unsupported`` with its name: partial observability (``num_agent_neighbors``,
``num_landmark_neighbors``), ``curriculum``, ``benchmark_data``, rendering, and mpe2's
scenarios without a task here (``simple``, ``simple_line``, ``simple_formation``,
``collect_treasure``, which the catalog does not ship).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from scenarios.batch.particles import ParticleWorlds
from scenarios.errors import UserError


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


class ParticleTask(ABC):
    """One mpe2 scenario over N worlds: the agents' indices and what each episode draws."""

    def __init__(self, env: Any, n: int) -> None:
        world = env.world
        self.scenario, self.n = env.scenario, n
        self.agents = list(range(len(world.agents)))
        self.landmarks = list(range(len(world.agents), len(world.agents) + len(world.landmarks)))
        self.adversary = np.array([bool(getattr(a, "adversary", False)) for a in world.agents])
        self.local_ratio = env.local_ratio

    choices: tuple[int, ...] = ()
    """Bounds of the ``integers`` draws ``reset_world`` makes before placing entities, in its order."""

    def bounds(self) -> list[tuple[int, float]]:
        """``(entities, half-width)`` of the ``uniform`` draws that place entities, in ``reset_world``'s order."""
        return [(len(self.agents) + len(self.landmarks), 1.0)]

    def draw(self, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
        """One copy's reset draws, call for call as ``reset_world`` makes them: the choices, then the positions."""
        picks = [int(rng.integers(k)) for k in self.choices]
        pos = [rng.uniform(-h, h, (count, 2)) for count, h in self.bounds()]
        return picks, pos[0] if len(pos) == 1 else np.concatenate(pos)

    def episode(self, ids: np.ndarray, picks: np.ndarray) -> None:
        """Keep what the episodes of copies ``ids`` drew besides the state (``picks``: their choices)."""

    @abstractmethod
    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        """Every agent's observation ``(N, d)`` (float64; the face casts to float32 as mpe2 does)."""

    @abstractmethod
    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        """``Scenario.reward`` of every agent ``(N, agents)``."""

    def global_reward(self, w: ParticleWorlds) -> np.ndarray:
        """``Scenario.global_reward`` ``(N,)`` (used only with a ``local_ratio``)."""
        return np.zeros(w.n)

    def rewards(self, w: ParticleWorlds) -> np.ndarray:
        """What ``SimpleEnv`` pays each agent: its reward, mixed with the global one by ``local_ratio``."""
        r = self.agent_rewards(w)
        if self.local_ratio is None:
            return r
        return self.global_reward(w)[:, None] * (1 - self.local_ratio) + r * self.local_ratio

    def terminal(self, w: ParticleWorlds) -> np.ndarray:
        """``Scenario.is_terminal`` per copy."""
        return np.zeros(w.n, bool)

    def rel(self, w: ParticleWorlds, entities: list[int], k: int) -> np.ndarray:
        """Positions of ``entities`` relative to entity ``k``, flattened ``(N, 2 * len)``."""
        return _flat(w.pos[:, entities] - w.pos[:, k : k + 1])

    def goal_distances(self, w: ParticleWorlds, goal: np.ndarray) -> np.ndarray:
        """Every agent's distance to its copy's goal entity ``goal`` ``(N,)``: ``(N, agents)``."""
        d = w.pos[:, : len(self.agents)] - w.pos[np.arange(w.n), goal][:, None]
        return np.sqrt(np.sum(np.square(d), axis=-1))

    def others(self, k: int) -> list[int]:
        """The agents other than ``k``."""
        return [j for j in self.agents if j != k]


class Spread(ParticleTask):
    """simple_spread: cover the landmarks (global reward), avoid collisions (local)."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        self.terminate = bool(getattr(self.scenario, "terminate_on_success", False))
        self.radius = float(getattr(self.scenario, "CAPTURE_RADIUS", 0.1))

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        return [np.concatenate([w.vel[:, k], w.pos[:, k], self.rel(w, self.landmarks, k), self.rel(w, self.others(k), k),
                                _flat(w.c[:, self.others(k)])], axis=1) for k in self.agents]

    def _min_dists(self, w: ParticleWorlds) -> np.ndarray:
        a, lm = np.array(self.agents), np.array(self.landmarks)
        return w.distance(a[None, :], lm[:, None]).min(axis=-1)  # (N, landmarks)

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        a = np.array(self.agents)
        hit = w.colliding(a[:, None], a[None, :])  # (N, A, A)
        hit[:, a, a] = False
        return -hit.sum(axis=2).astype(np.float64)

    def global_reward(self, w: ParticleWorlds) -> np.ndarray:
        return -self._min_dists(w).sum(axis=1)

    def terminal(self, w: ParticleWorlds) -> np.ndarray:
        if not self.terminate:
            return np.zeros(w.n, bool)
        return (self._min_dists(w) < self.radius).all(axis=1)


class SpeakerListener(ParticleTask):
    """simple_speaker_listener: the speaker sees the goal's colour, the listener moves to the goal."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        self.choices = (len(self.landmarks),)
        self.goal = np.zeros(n, np.int64)
        self.colour = np.zeros((n, 3))
        self.palette = _landmark_colours(env)

    def episode(self, ids: np.ndarray, picks: np.ndarray) -> None:
        self.goal[ids] = self.landmarks[0] + picks[:, 0]
        self.colour[ids] = self.palette[picks[:, 0]]

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        return [self.colour.copy(), np.concatenate([w.vel[:, 1], self.rel(w, self.landmarks, 1), w.c[:, 0]], axis=1)]

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        d2 = np.sum(np.square(w.pos[:, 1] - w.pos[np.arange(w.n), self.goal]), axis=-1)
        return np.repeat(-d2[:, None], 2, axis=1)


class Reference(ParticleTask):
    """simple_reference: each agent knows the other's goal landmark and must tell it."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        self.choices = (len(self.landmarks), len(self.landmarks))
        self.goal = np.zeros((n, 2), np.int64)
        self.colour = np.zeros((n, 2, 3))
        self.palette = _landmark_colours(env)

    def episode(self, ids: np.ndarray, picks: np.ndarray) -> None:
        self.goal[ids] = self.landmarks[0] + picks
        self.colour[ids] = self.palette[picks]

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        return [np.concatenate([w.vel[:, k], self.rel(w, self.landmarks, k), self.colour[:, k], w.c[:, 1 - k]], axis=1)
                for k in self.agents]

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        rows = np.arange(w.n)
        return np.stack([-np.sqrt(np.sum(np.square(w.pos[:, 1 - k] - w.pos[rows, self.goal[:, k]]), axis=-1))
                         for k in self.agents], axis=1)

    def global_reward(self, w: ParticleWorlds) -> np.ndarray:
        return self.agent_rewards(w).sum(axis=1) / len(self.agents)


class Adversary(ParticleTask):
    """simple_adversary: good agents hide which landmark is the goal from the adversary."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        self.choices = (len(self.landmarks),)
        self.goal = np.zeros(n, np.int64)

    def episode(self, ids: np.ndarray, picks: np.ndarray) -> None:
        self.goal[ids] = self.landmarks[0] + picks[:, 0]

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        goal = w.pos[np.arange(w.n), self.goal]
        out = []
        for k in self.agents:
            parts = [self.rel(w, self.landmarks, k), self.rel(w, self.others(k), k)]
            if not self.adversary[k]:
                parts.insert(0, goal - w.pos[:, k])
            out.append(np.concatenate(parts, axis=1))
        return out

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        d = self.goal_distances(w, self.goal)
        good = -d[:, ~self.adversary].min(axis=1) + d[:, self.adversary].sum(axis=1)
        return np.where(self.adversary[None, :], -d, good[:, None])


class Push(ParticleTask):
    """simple_push: the agent goes to its landmark, the adversary pushes it away."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        self.choices = (len(self.landmarks),)
        self.goal = np.zeros(n, np.int64)
        self.colour = np.zeros((n, len(self.agents), 3))
        self.landmark_colour = np.tile(_landmark_colours(env).ravel(), (n, 1))
        # reset_world: agents grey, the adversary red, the good agents' channel goal + 1 raised by 0.5
        self.agent_colour = np.where(self.adversary[:, None], [0.75, 0.25, 0.25], [0.25, 0.25, 0.25])

    def episode(self, ids: np.ndarray, picks: np.ndarray) -> None:
        self.goal[ids] = self.landmarks[0] + picks[:, 0]
        colour = np.repeat(self.agent_colour[None], len(ids), axis=0)
        for k in np.flatnonzero(~self.adversary):
            colour[np.arange(len(ids)), k, picks[:, 0] + 1] += 0.5
        self.colour[ids] = colour

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        goal = w.pos[np.arange(w.n), self.goal]
        out = []
        for k in self.agents:
            if self.adversary[k]:
                out.append(np.concatenate([w.vel[:, k], self.rel(w, self.landmarks, k), self.rel(w, self.others(k), k)], axis=1))
            else:
                out.append(np.concatenate([w.vel[:, k], goal - w.pos[:, k], self.colour[:, k], self.rel(w, self.landmarks, k),
                                           self.landmark_colour, self.rel(w, self.others(k), k)], axis=1))
        return out

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        d = self.goal_distances(w, self.goal)
        adv = d[:, ~self.adversary].min(axis=1)[:, None] - d
        return np.where(self.adversary[None, :], adv, -d)


class Crypto(ParticleTask):
    """simple_crypto: Alice encodes the goal with a key Bob shares; Eve listens without the key."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        world = env.world
        self.speaker = [bool(a.speaker) for a in world.agents]
        self.alice = self.speaker.index(True)
        self.choices = (len(self.landmarks), len(self.landmarks))
        self.goal_colour = np.zeros((n, world.dim_c))
        self.key = np.zeros((n, world.dim_c))
        self.palette = _landmark_colours(env)  # one-hot in dim_c

    def episode(self, ids: np.ndarray, picks: np.ndarray) -> None:
        self.goal_colour[ids] = self.palette[picks[:, 0]]
        self.key[ids] = self.palette[picks[:, 1]]

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        out = []
        for k in self.agents:
            if self.speaker[k]:
                out.append(np.concatenate([self.goal_colour, self.key], axis=1))
            elif not self.adversary[k]:
                out.append(np.concatenate([self.key, w.c[:, self.alice]], axis=1))
            else:
                out.append(w.c[:, self.alice].copy())
        return out

    def _error(self, w: ParticleWorlds, k: int) -> np.ndarray:
        """Agent k's squared error to the goal colour, 0 while it says nothing."""
        c = w.c[:, k]
        return np.where((c == 0).all(axis=1), 0.0, np.sum(np.square(c - self.goal_colour), axis=1))

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        listeners = [k for k in self.agents if not self.adversary[k] and not self.speaker[k]]
        adversaries = [k for k in self.agents if self.adversary[k]]
        good = sum((self._error(w, k) for k in adversaries), np.zeros(w.n)) - sum((self._error(w, k) for k in listeners), np.zeros(w.n))
        return np.stack([-self._error(w, k) if self.adversary[k] else good for k in self.agents], axis=1)


def _landmark_colours(env: Any) -> np.ndarray:
    """The landmarks' colours ``(landmarks, k)`` as ``reset_world`` paints them (fixed per landmark in every
    scenario with a task here), read from the template after one reset with a throwaway generator."""
    env.scenario.reset_world(env.world, np.random.default_rng(0))
    return np.array([lm.color for lm in env.world.landmarks], np.float64)


def _bound(x: np.ndarray) -> np.ndarray:
    """simple_tag's penalty for leaving the arena, per coordinate."""
    return np.where(x < 0.9, 0.0, np.where(x < 1.0, (x - 0.9) * 10, np.minimum(np.exp(2 * x - 2), 10)))


class Tag(ParticleTask):
    """simple_tag: adversaries chase faster good agents around obstacles."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        self.terminate = bool(getattr(self.scenario, "terminate_on_success", False))
        self.obstacles = [j for j, lm in zip(self.landmarks, env.world.landmarks) if not getattr(lm, "boundary", False)]
        if len(self.obstacles) != len(self.landmarks):
            raise UserError("the batched particle backend does not implement simple_tag's boundary landmarks")

    def bounds(self) -> list[tuple[int, float]]:
        return [(len(self.agents), 1.0), (len(self.landmarks), 0.9)]

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        out = []
        for k in self.agents:
            others = self.others(k)
            good = [j for j in others if not self.adversary[j]]
            out.append(np.concatenate([w.vel[:, k], w.pos[:, k], self.rel(w, self.obstacles, k), self.rel(w, others, k),
                                       _flat(w.vel[:, good])], axis=1))
        return out

    def _caught(self, w: ParticleWorlds) -> np.ndarray:
        """(N, adversaries, good agents): which pairs collide."""
        adv, good = np.flatnonzero(self.adversary), np.flatnonzero(~self.adversary)
        return w.colliding(adv[:, None], good[None, :])

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        caught = self._caught(w)
        good = np.flatnonzero(~self.adversary)
        out = np.zeros((w.n, len(self.agents)))
        out[:, self.adversary] = 10.0 * caught.sum(axis=(1, 2))[:, None]
        out[:, good] = -10.0 * caught.sum(axis=1) - _bound(np.abs(w.pos[:, good])).sum(axis=-1)
        return out

    def terminal(self, w: ParticleWorlds) -> np.ndarray:
        if not self.terminate:
            return np.zeros(w.n, bool)
        return self._caught(w).any(axis=1).all(axis=1)


class WorldComm(ParticleTask):
    """simple_world_comm: a leader directs adversaries after foragers that can hide in forests."""

    def __init__(self, env: Any, n: int) -> None:
        super().__init__(env, n)
        world = env.world
        if any(getattr(lm, "boundary", False) for lm in world.landmarks):
            raise UserError("the batched particle backend does not implement simple_world_comm's boundary landmarks")
        index = {id(lm): j for j, lm in zip(self.landmarks, world.landmarks)}
        self.food = [index[id(f)] for f in world.food]
        self.forests = [index[id(f)] for f in world.forests]
        self.leader = [bool(getattr(a, "leader", False)) for a in world.agents]

    def bounds(self) -> list[tuple[int, float]]:
        return [(len(self.agents), 1.0), (len(self.landmarks), 0.9), (len(self.food), 0.9), (len(self.forests), 0.9)]

    def draw(self, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
        """reset_world places every landmark (food and forests included), then the food, then the forests again."""
        agents, landmarks, food, forests = (rng.uniform(-h, h, (count, 2)) for count, h in self.bounds())
        first = self.landmarks[0]
        landmarks[np.array(self.food, np.int64) - first] = food
        landmarks[np.array(self.forests, np.int64) - first] = forests
        return [], np.concatenate([agents, landmarks])

    def observe(self, w: ParticleWorlds) -> list[np.ndarray]:
        agents, forests = np.array(self.agents, np.intp), np.array(self.forests, np.intp)  # none: an empty index
        inside = w.colliding(agents[:, None], forests[None, :])  # (N, agents, forests)
        anywhere = inside.any(axis=2)
        leader_c = w.c[:, 0]
        out = []
        for k in self.agents:
            pos, vel = [], []
            for j in self.others(k):
                shared = (inside[:, k] & inside[:, j]).any(axis=1)
                seen = shared | (~anywhere[:, k] & ~anywhere[:, j]) | self.leader[k]
                pos.append(np.where(seen[:, None], w.pos[:, j] - w.pos[:, k], 0.0))
                if not self.adversary[j]:
                    vel.append(np.where(seen[:, None], w.vel[:, j], 0.0))
            in_forest = np.where(inside[:, k], 1.0, -1.0)
            head = [w.vel[:, k], w.pos[:, k], self.rel(w, self.landmarks, k), *pos]
            if self.adversary[k]:
                out.append(np.concatenate([*head, *vel, in_forest, leader_c], axis=1))
            else:
                out.append(np.concatenate([*head, in_forest, *vel], axis=1))
        return out

    def agent_rewards(self, w: ParticleWorlds) -> np.ndarray:
        adv, good = np.flatnonzero(self.adversary), np.flatnonzero(~self.adversary)
        food = np.array(self.food, np.intp)
        caught = w.colliding(adv[:, None], good[None, :])  # (N, adversaries, good)
        out = np.zeros((w.n, len(self.agents)))
        to_good = w.distance(adv[:, None], good[None, :])  # (N, adversaries, good)
        out[:, adv] = -0.1 * to_good.min(axis=2) + 5.0 * caught.sum(axis=(1, 2))[:, None]
        eats = w.colliding(good[:, None], food[None, :]).sum(axis=2)
        to_food = w.distance(food[None, :], good[:, None]).min(axis=2)
        out[:, good] = (-5.0 * caught.sum(axis=1) - 2 * _bound(np.abs(w.pos[:, good])).sum(axis=-1)
                        + 2.0 * eats - 0.05 * to_food)
        return out


TASKS: dict[str, type[ParticleTask]] = {
    "simple_spread": Spread, "simple_speaker_listener": SpeakerListener, "simple_reference": Reference,
    "simple_adversary": Adversary, "simple_push": Push, "simple_crypto": Crypto, "simple_tag": Tag,
    "simple_world_comm": WorldComm,
}


def scenario_name(source: str) -> str | None:
    """``simple_spread`` for ``pettingzoo:mpe2.simple_spread_v3``; None for other sources."""
    kind, _, module = source.partition(":")
    if kind != "pettingzoo" or not module.startswith("mpe2."):
        return None
    return module.split(".", 1)[1].rsplit("_v", 1)[0]


def unsupported(source: str, kwargs: dict[str, Any]) -> str | None:
    """Why the batched particle backend cannot run this mpe2 source with these arguments (None when it can)."""
    name = scenario_name(source)
    if name is None:
        return None if source.startswith("pettingzoo:mpe2.") else f"{source} is not an mpe2 scenario"
    if name not in TASKS:
        return f"the batched particle backend implements {', '.join(sorted(TASKS))}, not {name}"
    for key in ("num_agent_neighbors", "num_landmark_neighbors"):
        if kwargs.get(key) is not None:
            return f"the batched particle backend does not implement {key} (partial observability)"
    for key in ("curriculum", "benchmark_data"):
        if kwargs.get(key):
            return f"the batched particle backend does not implement {key}=True"
    if kwargs.get("render_mode") is not None:
        return "the batched particle backend does not render"
    return None
