"""Exploration strategies for value-based agents (tabular and deep Q-learning).

Pure functions of Q-values, a generator and training progress in [0, 1]:
epsilon-greedy with a linear epsilon schedule, and softmax (Boltzmann) with a
temperature (itself optionally annealed). Selected by the ``exploration``
hyperparameter: ``epsilon`` (default) or ``softmax``.
"""

from __future__ import annotations

import numpy as np

from scenarios import UserError

STRATEGIES = ("epsilon", "softmax")


def linear(start: float, end: float, fraction: float, progress: float) -> float:
    """Linear schedule from ``start`` to ``end`` over the first ``fraction`` of training."""
    if fraction <= 0:
        return end
    return start + (end - start) * min(1.0, progress / fraction)


def anneal_fraction(fraction: float, budget: int, span_max: int | None) -> float:
    """The fraction of a ``budget``-step run that a schedule anneals over: ``fraction``, or where that is
    more than ``span_max`` steps, ``span_max / budget`` (an anneal of at most ``span_max`` steps).

    >>> anneal_fraction(0.3, 60_000, 50_000), anneal_fraction(0.3, 1_000_000, 50_000), anneal_fraction(0.3, 10, None)
    (0.3, 0.05, 0.3)
    """
    return fraction if span_max is None or fraction * budget <= span_max else span_max / budget


def epsilon_greedy(q: np.ndarray, rng: np.random.Generator, epsilon: float) -> np.ndarray:
    """Greedy actions per row of ``q`` (N, A), replaced by uniform ones with probability epsilon."""
    greedy = q.argmax(axis=1)
    explore = rng.random(len(q)) < epsilon
    return np.where(explore, rng.integers(0, q.shape[1], len(q)), greedy)


def softmax(q: np.ndarray, rng: np.random.Generator, temperature: float) -> np.ndarray:
    """Boltzmann actions: P(a) proportional to exp(q_a / temperature), per row."""
    z = (q - q.max(axis=1, keepdims=True)) / max(temperature, 1e-8)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((len(q), 1))
    return (p.cumsum(axis=1) < u).sum(axis=1).clip(max=q.shape[1] - 1)


class Explorer:
    """An exploration strategy configured from hyperparameters."""

    def __init__(self, strategy: str = "epsilon", eps_start: float = 1.0, eps_end: float = 0.05,
                 eps_fraction: float = 0.1, temperature: float = 1.0, temperature_end: float | None = None) -> None:
        if strategy not in STRATEGIES:
            raise UserError(f"unknown exploration '{strategy}' (valid: {', '.join(STRATEGIES)})")
        self.strategy, self.eps = strategy, (eps_start, eps_end, eps_fraction)
        self.temperature = (temperature, temperature if temperature_end is None else temperature_end)

    def value(self, progress: float) -> float:
        """Current epsilon or temperature at training progress in [0, 1]."""
        if self.strategy == "epsilon":
            return linear(*self.eps, progress)
        t0, t1 = self.temperature
        return linear(t0, t1, 1.0, progress)

    def select(self, q: np.ndarray, rng: np.random.Generator, progress: float) -> np.ndarray:
        """Exploratory actions for Q-values ``q`` (N, A)."""
        if self.strategy == "epsilon":
            return epsilon_greedy(q, rng, self.value(progress))
        return softmax(q, rng, self.value(progress))
