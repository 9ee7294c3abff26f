"""Replay of joint multi-agent transitions for the off-policy learners (IQL, VDN,
QMIX, MADDPG): named arrays in one circular store, sampled uniformly.

The single-agent ``agents.replay.ReplayBuffer`` stores one observation array;
a joint transition holds one per agent group plus the centralized state, so
this store keeps any set of named fields with a leading transition axis.
"""

from __future__ import annotations

import numpy as np


class JointReplay:
    """Circular store of named arrays; ``add`` takes a batch of transitions."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.fields: dict[str, np.ndarray] = {}
        self.size = self.pos = 0

    def __len__(self) -> int:
        return self.size

    def add(self, **batch: np.ndarray) -> None:
        """Append ``len(batch[...])`` transitions (every field the same length)."""
        n = len(next(iter(batch.values())))
        if not self.fields:
            self.fields = {k: np.zeros((self.capacity, *np.shape(v)[1:]), np.asarray(v).dtype) for k, v in batch.items()}
        idx = (self.pos + np.arange(n)) % self.capacity
        for k, v in batch.items():
            self.fields[k][idx] = v
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A uniform minibatch of every field."""
        idx = rng.integers(0, self.size, size=batch_size)
        return {k: v[idx] for k, v in self.fields.items()}


def next_observations(obs: dict[str, np.ndarray], infos: list[dict]) -> dict[str, np.ndarray]:
    """The observation that follows each transition: the final observation where a copy's
    episode just ended (autoreset already put the next episode's first one in ``obs``)."""
    out = {a: o.copy() for a, o in obs.items()}
    for i, info in enumerate(infos):
        if "final_observation" in info:
            for a, o in info["final_observation"].items():
                out[a][i] = o
    return out
