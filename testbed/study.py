"""A study's answers over seeds: conditions (agent label x training scenario) evaluated on scenarios.

Episode records of an experiment say which policy produced them (``label``, ``trained_on``,
``train_seed``) and what was evaluated (``scenario_id``; ``params`` holds a grid point, a search
point or an attack). Here they become the numbers a robustness study asks for, with the seed
(the training run) as the unit, as rliable does: each policy's mean return per evaluation, then
the IQM over seeds with a percentile-bootstrap CI over seeds.

- ``kind(r)``: ``nominal``, ``grid``, ``search`` or ``attack``; headline tables use nominal episodes only.
- ``transfer(records)``: per condition x evaluated scenario, the IQM over seeds and the gap to the
  condition's own training scenario (paired by seed).
- ``grid_study(records)``: per condition x scenario x grid, nominal / worst / 10th percentile / mean
  over the grid points, each aggregated over seeds with a CI; ``grid_cells`` the per-point values.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from testbed.metrics import bootstrap_ci, iqm, mean
from testbed.records import EpisodeRecord, GridPoint, grid_point, split_unstable

Condition = tuple[str, str]
"""(agent label, training scenario id; '' when unknown)."""


def kind(r: EpisodeRecord) -> str:
    """What an episode evaluated: ``attack``, ``search`` (a worst-case search point), ``grid`` or ``nominal``."""
    if "attack" in r.params:
        return "attack"
    if "search" in r.params:
        return "search"
    if "grid" in r.params:
        return "grid"
    return "nominal"


def nominal(records: list[EpisodeRecord]) -> list[EpisodeRecord]:
    """Episodes evaluated without a grid point, a search point or an attack."""
    return [r for r in records if kind(r) == "nominal"]


def condition(r: EpisodeRecord) -> Condition:
    """The condition a record's policy belongs to: (label or agent name, training scenario)."""
    return (r.label or r.agent, r.trained_on or "")


def policy(r: EpisodeRecord) -> str:
    """One trained policy of a condition: its training seed, else its checkpoint folder's name."""
    if r.train_seed is not None:
        return f"seed {r.train_seed}"
    return Path(r.checkpoint).name if r.checkpoint else "-"


def short_label(r: EpisodeRecord) -> str:
    """A row label that tells seeds apart: ``label · seed k`` (or the checkpoint folder's name)."""
    who = policy(r)
    return condition(r)[0] if who == "-" else f"{condition(r)[0]} · {who}"


def condition_text(c: Condition) -> str:
    """``label`` or ``label (trained on X)``."""
    return c[0] if not c[1] else f"{c[0]} (trained on {c[1]})"


@dataclass
class Estimate:
    """An aggregate over seeds: point value and 95% bootstrap CI over seeds, with the per-seed values."""

    value: float
    low: float
    high: float
    per_seed: list[float]

    def text(self, digits: int = 1) -> str:
        """``v [lo, hi]``."""
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _estimate(values: list[float], statistic: Any, reps: int) -> Estimate:
    x = np.asarray(values, float)
    lo, hi = bootstrap_ci(x, statistic, reps=reps)  # seeds resampled with replacement (vectorized for iqm and mean)
    return Estimate(float(statistic(x)), lo, hi, [float(v) for v in x])


def over_seeds(values: list[float], reps: int = 2000) -> Estimate:
    """IQM over per-seed values with a percentile-bootstrap 95% CI over seeds."""
    return _estimate(values, iqm, reps)


def _mean_over_seeds(values: list[float], reps: int = 2000) -> Estimate:
    return _estimate(values, mean, reps)


@dataclass
class TransferRow:
    """One condition evaluated on one scenario (nominal episodes), over seeds."""

    condition: Condition
    scenario_id: str
    seeds: int
    episodes: int
    estimate: Estimate
    gap: Estimate | None
    """Return on the training scenario minus return here, paired by seed (None on the training scenario itself)."""


def per_policy_means(records: list[EpisodeRecord]) -> dict[tuple[Condition, str, str], float]:
    """Mean nominal team return per (condition, evaluated scenario, policy)."""
    groups: dict[tuple[Condition, str, str], list[float]] = defaultdict(list)
    for r in nominal(records):
        groups[(condition(r), r.scenario_id, policy(r))].append(r.team_return)
    return {k: float(np.mean(v)) for k, v in groups.items()}


def transfer(records: list[EpisodeRecord]) -> list[TransferRow]:
    """Per condition x evaluated scenario: IQM over seeds of each policy's mean nominal return, and the gap."""
    means = per_policy_means(records)
    counts: dict[tuple[Condition, str], int] = defaultdict(int)
    for r in nominal(records):
        counts[(condition(r), r.scenario_id)] += 1
    cells: dict[tuple[Condition, str], dict[str, float]] = defaultdict(dict)
    for (cond, sid, who), m in means.items():
        cells[(cond, sid)][who] = m
    rows = []
    for (cond, sid), by_policy in sorted(cells.items()):
        gap = None
        home = cells.get((cond, cond[1]))
        if cond[1] and sid != cond[1] and home:
            paired = [home[w] - by_policy[w] for w in sorted(by_policy) if w in home]
            gap = _mean_over_seeds(paired) if paired else None
        rows.append(TransferRow(cond, sid, len(by_policy), counts[(cond, sid)],
                                over_seeds([by_policy[w] for w in sorted(by_policy)]), gap))
    return rows


@dataclass
class GridRow:
    """One condition over one grid of one scenario: grid statistics aggregated over seeds."""

    condition: Condition
    scenario_id: str
    axes: tuple[str, ...]
    points: int
    seeds: int
    nominal: Estimate | None
    worst: Estimate
    p10: Estimate
    mean: Estimate


def _grid_runs(records: list[EpisodeRecord]) -> dict[tuple[Condition, str, tuple[str, ...]], dict[str, dict[GridPoint, list[float]]]]:
    """(condition, scenario, axes) -> policy -> point (sorted (axis, value) pairs; () the nominal) -> returns;
    a point where any episode of the run went physically unstable (``scenarios.instability``) is left out."""
    by_run: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for r in split_unstable(records)[0]:
        if kind(r) == "grid":
            by_run[r.run_id].append(r)
    out: dict[tuple[Condition, str, tuple[str, ...]], dict[str, dict[GridPoint, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    for recs in by_run.values():
        axes = next((tuple(sorted(r.params["grid"])) for r in recs if r.params["grid"]), None)
        if axes is None:
            continue
        for r in recs:
            out[(condition(r), r.scenario_id, axes)][policy(r)][grid_point(r)].append(r.team_return)
    return out


def grid_study(records: list[EpisodeRecord]) -> list[GridRow]:
    """Nominal, worst, 10th percentile and mean over each grid, per policy, then over seeds (IQM, CI)."""
    rows = []
    for (cond, sid, axes), by_policy in sorted(_grid_runs(records).items()):
        stats: dict[str, list[float]] = defaultdict(list)
        points = 0
        for _who, cells in sorted(by_policy.items()):
            values = np.array([np.mean(v) for k, v in cells.items() if k])
            if not len(values):  # every grid point of this policy went unstable
                continue
            points = max(points, len(values))
            if () in cells:
                stats["nominal"].append(float(np.mean(cells[()])))
            stats["worst"].append(float(values.min()))
            stats["p10"].append(float(np.percentile(values, 10)))
            stats["mean"].append(float(values.mean()))
        if not stats["worst"]:
            continue
        rows.append(GridRow(cond, sid, axes, points, len(by_policy),
                            over_seeds(stats["nominal"]) if stats["nominal"] else None,
                            over_seeds(stats["worst"]), over_seeds(stats["p10"]), over_seeds(stats["mean"])))
    return rows


def grid_cells(records: list[EpisodeRecord]) -> dict[tuple[Condition, str, tuple[str, ...]], dict[tuple[float, ...], Estimate]]:
    """Per condition x scenario x grid: each point's IQM over seeds of the per-policy mean return."""
    out = {}
    for key, by_policy in _grid_runs(records).items():
        per_point: dict[tuple[float, ...], list[float]] = defaultdict(list)
        for cells in by_policy.values():
            for point, returns in cells.items():
                if point:
                    values = dict(point)
                    per_point[tuple(values[a] for a in key[2])].append(float(np.mean(returns)))
        out[key] = {p: over_seeds(v, reps=500) for p, v in sorted(per_point.items())}
    return out
