"""Aggregate statistics over (runs x tasks) score matrices, with rliable's definitions
(Agarwal et al. 2021), as pure NumPy/SciPy functions.

- point estimates: ``mean``, ``median`` (of per-task means), ``iqm`` (25% trimmed
  mean over all runs and tasks), ``optimality_gap`` (gamma - mean of min(score, gamma));
- ``stratified_bootstrap_ci``: percentile intervals from resampling runs with
  replacement independently within each task (rliable's ``StratifiedBootstrap``,
  ``task_bootstrap=False``);
- ``performance_profile``: fraction of run-task scores above each threshold tau
  (run-score distribution) or of per-task means (``use_score_distribution=False``),
  with stratified-bootstrap bands;
- ``probability_of_improvement``: P(X > Y) from the Mann-Whitney U statistic,
  averaged over tasks, with its independent-samples stratified bootstrap CI.

Written here rather than imported because rliable pulls in arch, pandas and
seaborn for what is ~100 lines; ``tests/test_aggregate.py`` compares both on the
same arrays where rliable is installed and checks hand-computed cases always.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

Aggregate = Callable[[np.ndarray], float]


def _matrix(scores: np.ndarray) -> np.ndarray:
    x = np.asarray(scores, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"scores must be a (runs x tasks) matrix, got shape {x.shape}")
    return x


def mean(scores: np.ndarray) -> float:
    """Mean over tasks of the per-task mean score."""
    return float(np.mean(np.mean(_matrix(scores), axis=0)))


def median(scores: np.ndarray) -> float:
    """Median over tasks of the per-task mean score."""
    return float(np.median(np.mean(_matrix(scores), axis=0)))


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean: the 25% trimmed mean of all run x task scores."""
    return float(stats.trim_mean(_matrix(scores), proportiontocut=0.25, axis=None))


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """How far scores fall short of ``gamma`` on average (scores above it count as gamma)."""
    return float(gamma - np.mean(np.minimum(_matrix(scores), gamma)))


def _resample(x: np.ndarray, rng: np.random.Generator, reps: int) -> np.ndarray:
    """(reps, runs, tasks): runs resampled with replacement within each task."""
    runs, tasks = x.shape
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return x[idx, np.arange(tasks)[None, None, :]]


def stratified_bootstrap_ci(scores: np.ndarray, statistic: Aggregate = iqm, reps: int = 2000, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` under the stratified (per-task) bootstrap."""
    x = _matrix(scores)
    rng = np.random.default_rng(seed)
    boots = _resample(x, rng, reps)
    values = np.array([statistic(b) for b in boots])
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha))


def interval_estimates(score_dict: dict[str, np.ndarray], statistic: Aggregate = iqm, reps: int = 2000,
                       confidence: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Per algorithm: (point estimate, CI low, CI high) of one aggregate."""
    return {k: (statistic(_matrix(v)), *stratified_bootstrap_ci(v, statistic, reps, confidence, seed)) for k, v in score_dict.items()}


def performance_profile(scores: np.ndarray, taus: np.ndarray, use_score_distribution: bool = True, reps: int = 2000,
                        confidence: float = 0.95, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Profile values at each tau and their (2, len(taus)) bootstrap band."""
    x = _matrix(scores)
    taus = np.asarray(taus, dtype=float)

    def profile(m: np.ndarray) -> np.ndarray:
        vals = m if use_score_distribution else m.mean(axis=0, keepdims=True)
        return (vals.reshape(-1)[None, :] > taus[:, None]).mean(axis=1)

    boots = np.array([profile(b) for b in _resample(x, np.random.default_rng(seed), reps)])
    alpha = (1.0 - confidence) / 2.0
    return profile(x), np.quantile(boots, [alpha, 1.0 - alpha], axis=0)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + 0.5 P(X = Y) per task from the Mann-Whitney U statistic, averaged over tasks."""
    a, b = _matrix(x), _matrix(y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y need the same tasks, got {a.shape[1]} and {b.shape[1]}")
    probs = []
    for t in range(a.shape[1]):
        if np.array_equal(a[:, t], b[:, t]):
            probs.append(0.5)
            continue
        u = stats.mannwhitneyu(a[:, t], b[:, t], alternative="greater").statistic
        probs.append(u / (len(a) * len(b)))
    return float(np.mean(probs))


def probability_of_improvement_ci(x: np.ndarray, y: np.ndarray, reps: int = 2000, confidence: float = 0.95,
                                  seed: int = 0) -> tuple[float, float]:
    """Bootstrap CI of P(X > Y), resampling X's and Y's runs independently within each task."""
    a, b = _matrix(x), _matrix(y)
    rng = np.random.default_rng(seed)
    xa, yb = _resample(a, rng, reps), _resample(b, rng, reps)
    values = np.array([probability_of_improvement(p, q) for p, q in zip(xa, yb)])
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha))
