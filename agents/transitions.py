"""A growing, time-ordered store of real transitions for the model-based agents.

Rows are appended in the order they were collected from one scenario copy, so consecutive
rows belong to one episode until a row marked ``ended`` (terminated or truncated): the
dynamics model's multi-step error rolls the model along such runs. Observations and actions
are float32 (a discrete action is stored as its index); ``next_obs`` is the final observation
where an episode ended. Saved as arrays (``npz``) with the agent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated", "ended")


class Transitions:
    """Preallocated arrays that double in size as rows arrive."""

    def __init__(self, obs_dim: int, act_dim: int, capacity: int = 1024, stride: int = 1) -> None:
        self.stride = stride
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, act_dim), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.terminated = np.zeros(capacity, bool)
        self.ended = np.zeros(capacity, bool)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, ended: np.ndarray) -> None:
        """Append rows (each argument has the rows first)."""
        n = len(obs)
        while self.size + n > len(self.obs):
            for f in FIELDS:
                old = getattr(self, f)
                setattr(self, f, np.concatenate([old, np.zeros_like(old)]))
        s = slice(self.size, self.size + n)
        self.obs[s], self.rewards[s], self.next_obs[s] = obs, rewards, next_obs
        self.actions[s] = np.asarray(actions, np.float32).reshape(n, self.actions.shape[1])
        self.terminated[s], self.ended[s] = terminated, ended
        self.size += n

    def view(self, field: str) -> np.ndarray:
        """The filled rows of ``field``."""
        return getattr(self, field)[: self.size]

    def save(self, file: Path) -> None:
        """Write the filled rows to ``file`` (npz)."""
        np.savez_compressed(file, stride=np.array(self.stride), **{f: self.view(f) for f in FIELDS})

    @classmethod
    def load(cls, file: Path) -> Transitions:
        """Read ``save``'s file."""
        with np.load(file) as data:
            stride = int(data["stride"]) if "stride" in data else 1
            out = cls(data["obs"].shape[1], data["actions"].shape[1], max(len(data["obs"]), 1), stride)
            out.add(*(data[f] for f in FIELDS))
        return out
