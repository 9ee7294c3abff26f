"""Robustness over a parameter grid, from per-point mean returns: nominal, worst case,
percentiles, mean, and the normalized area under the robustness curve (AURC).

For a one-parameter sweep the AURC is the trapezoid integral of the mean return
over the parameter range mapped to [0, 1]; for grids of several parameters it is
the mean over grid points (the same quantity on a uniform grid). Dividing by the
nominal return gives 1.0 for a policy that keeps its nominal performance
everywhere and less for one that degrades.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Robustness:
    """Summary of per-point mean returns over a grid."""

    nominal: float
    worst: float
    p10: float
    p25: float
    median: float
    mean: float
    aurc: float
    normalized_aurc: float


def robustness(values: np.ndarray, nominal: float, axis_values: np.ndarray | None = None) -> Robustness:
    """Summarize per-point mean returns ``values`` (1-D sweep in ``axis_values`` order, or any grid flattened)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("robustness needs at least one grid point")
    if axis_values is not None and len(axis_values) == v.size and v.size > 1:
        x = np.asarray(axis_values, dtype=float)
        order = np.argsort(x)
        x, y = x[order], v[order]
        area = float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2 / (x[-1] - x[0]))
    else:
        area = float(v.mean())
    return Robustness(
        nominal=float(nominal), worst=float(v.min()), p10=float(np.percentile(v, 10)), p25=float(np.percentile(v, 25)),
        median=float(np.median(v)), mean=float(v.mean()), aurc=area,
        normalized_aurc=area / nominal if nominal else float("nan"),
    )
