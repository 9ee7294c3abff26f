"""One replay buffer for the value-based agents: uniform or proportional-prioritized
sampling, with n-step returns folded in at insertion.

Transitions are stored as (obs, action, n-step discounted reward, obs n steps
later, terminated within those n steps, discount for the bootstrap). An
n-step window is cut at a termination (no bootstrap) and at a truncation
(bootstrap from the final observation), per copy of the vectorized face, and
when collection stops for good (`flush`; a learner continuing in its next `learn()` call keeps its windows open).
Prioritized sampling is Schaul et al.'s proportional variant: P(i) ~ p_i^alpha,
importance weights (N P(i))^-beta normalized by their maximum. Written here
because SB3's buffers have no prioritization and no n-step fold.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    """A sampled minibatch."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    discounts: np.ndarray  # gamma^k, or 0 where the window ended in a termination
    weights: np.ndarray
    indices: np.ndarray


class ReplayBuffer:
    """Circular transition store with optional prioritization and n-step returns."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype, n_envs: int,
                 gamma: float = 0.99, n_step: int = 1, prioritized: bool = False, alpha: float = 0.6,
                 eps: float = 1e-6) -> None:
        self.capacity, self.gamma, self.n_step = capacity, gamma, n_step
        self.prioritized, self.alpha, self.eps = prioritized, alpha, eps
        self.obs = np.zeros((capacity, *obs_shape), obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), obs_dtype)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.discounts = np.zeros(capacity, np.float32)
        self.priorities = np.zeros(capacity, np.float64)
        self.max_priority = 1.0
        self.size = self.pos = 0
        self.windows = [deque() for _ in range(n_envs)]

    def __len__(self) -> int:
        return self.size

    def put(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, discount: float) -> None:
        """Store one finished transition (``discount``: the bootstrap's factor, 0 at a termination)."""
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i], self.next_obs[i], self.discounts[i] = obs, action, reward, next_obs, discount
        self.priorities[i] = self.max_priority
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def _emit(self, window: deque, next_obs: np.ndarray, terminated: bool) -> None:
        """Store the transition that starts the window, as an n-step return."""
        ret = 0.0
        for k, (_, _, r) in enumerate(window):
            ret += (self.gamma**k) * r
        obs, action, _ = window[0]
        self.put(obs, action, ret, next_obs, 0.0 if terminated else self.gamma ** len(window))
        window.popleft()

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, ended: np.ndarray) -> None:
        """One vectorized step: ``next_obs`` must be the final observation where an episode ``ended``."""
        for i, window in enumerate(self.windows):
            window.append((obs[i], int(actions[i]), float(rewards[i])))
            if ended[i]:
                while window:
                    self._emit(window, next_obs[i], bool(terminated[i]))
            elif len(window) == self.n_step:
                self._emit(window, next_obs[i], False)

    def flush(self, next_obs: np.ndarray) -> None:
        """Cut every copy's pending window as a truncation at ``next_obs`` (each copy's last
        observation), bootstrapping from it: called when collection stops (the end of a
        ``learn()``), so no window joins steps of two episodes."""
        for i, window in enumerate(self.windows):
            while window:
                self._emit(window, next_obs[i], False)

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        """A minibatch; with prioritization, importance weights correct the sampling bias."""
        if self.prioritized:
            p = self.priorities[: self.size] ** self.alpha
            cdf = np.cumsum(p)
            idx = np.searchsorted(cdf, rng.random(batch_size) * cdf[-1], side="right").clip(max=self.size - 1)
            probs = p[idx] / cdf[-1]
            w = (self.size * probs) ** (-beta)
            weights = (w / w.max()).astype(np.float32)
        else:
            idx = rng.integers(0, self.size, batch_size)
            weights = np.ones(batch_size, np.float32)
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.discounts[idx],
                     weights, idx)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """New priorities |delta| + eps for sampled transitions."""
        p = np.abs(td_errors) + self.eps
        self.priorities[indices] = p
        self.max_priority = max(self.max_priority, float(p.max()))
