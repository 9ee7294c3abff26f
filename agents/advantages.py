"""Generalized advantage estimation (Schulman et al. 2016), written once for every on-policy learner
of ours (fast_ppo, the MARL PPO family, I2A), in SB3's ``RolloutBuffer.compute_returns_and_advantage``
order of operations. SB3's buffer itself is not used: it stores one flat observation per copy and
step, where these learners keep per-agent rows, recurrent states and masks of their own."""

from __future__ import annotations

import numpy as np


def gae(rewards: np.ndarray, values: np.ndarray, last_values: np.ndarray, ended: np.ndarray, gamma: float,
        lam: float, out: np.ndarray | None = None) -> np.ndarray:
    """Advantages ``(T, L)`` for rewards and values ``(T, L)``, the values after the last step
    ``(L,)`` and ``ended[t]``: the episode of a lane ended at step ``t`` (no bootstrap through it;
    a truncation's bootstrap is folded into its reward by the caller). ``lam = 1`` gives n-step
    returns minus values. Written into ``out`` where given.

    >>> gae(np.array([[1.0], [1.0]]), np.zeros((2, 1)), np.array([10.0]), np.array([[0.0], [1.0]]), 0.5, 1.0)[:, 0]
    array([1.5, 1. ])
    """
    adv = np.zeros_like(rewards) if out is None else out
    running = np.zeros(rewards.shape[1:], adv.dtype)
    for t in range(len(rewards) - 1, -1, -1):
        next_values = last_values if t == len(rewards) - 1 else values[t + 1]
        non_terminal = 1.0 - ended[t]
        delta = rewards[t] + gamma * next_values * non_terminal - values[t]
        running = delta + gamma * lam * non_terminal * running
        adv[t] = running
    return adv
