"""Summaries of stored episodes: one row per policy (agent label, training scenario, seed or
checkpoint) x evaluated scenario."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from scenarios.teams import team_returns
from testbed.metrics import bootstrap_ci, iqm
from testbed.records import EpisodeRecord


@dataclass
class SummaryRow:
    """Statistics of the team return over one group's episodes."""

    agent: str
    checkpoint: str | None
    scenario_id: str
    aggregation: str
    episodes: int
    mean: float
    iqm: float
    ci_low: float
    ci_high: float
    mean_length: float
    team_means: dict[str, float]
    """Mean return of each team (sum over its agents); one entry for single-team scenarios."""
    success: float | None = None
    """Fraction of episodes the source flagged successful (None: it reports no success flag)."""
    success_ci: tuple[float, float] | None = None
    """95% bootstrap CI of ``success`` over episodes."""
    name: str = ""
    """A short row label that tells seeds apart (``label · seed k``)."""
    trained_on: str | None = None


def summarize(records: list[EpisodeRecord], reps: int = 2000, seed: int = 0) -> list[SummaryRow]:
    """Group records by (scenario, policy) and compute mean, IQM and a 95% bootstrap CI of the IQM.

    A policy is an agent label x training scenario x training seed (records of experiments), or an
    agent x checkpoint (records of ``testbed evaluate``)."""
    from testbed.study import condition, short_label

    groups: dict[tuple, list[EpisodeRecord]] = defaultdict(list)
    for r in records:
        groups[(r.scenario_id, *condition(r), short_label(r), r.agent, r.checkpoint or "", r.aggregation)].append(r)
    rows = []
    for (scenario_id, _label, trained_on, name, agent, checkpoint, aggregation), recs in sorted(groups.items()):
        recs = sorted(recs, key=lambda r: (r.run_id, r.episode))  # the CI must not depend on storage order
        x = np.array([r.team_return for r in recs])
        lo, hi = bootstrap_ci(x, iqm, reps=reps, seed=seed)
        rate, rate_ci = success_rate(recs, reps, seed)
        rows.append(SummaryRow(
            agent=agent, checkpoint=checkpoint or None, scenario_id=scenario_id, aggregation=aggregation,
            episodes=len(recs), mean=float(x.mean()), iqm=iqm(x), ci_low=lo, ci_high=hi,
            mean_length=float(np.mean([r.length for r in recs])),
            team_means=_team_means(recs), name=name, trained_on=trained_on or None, success=rate, success_ci=rate_ci,
        ))
    return rows


def success_rate(recs: list[EpisodeRecord], reps: int = 2000, seed: int = 0) -> tuple[float | None, tuple[float, float] | None]:
    """The fraction of successful episodes among those with a success flag, with its 95% bootstrap CI
    over episodes; (None, None) when no episode has a flag.

    >>> from testbed.records import EpisodeRecord
    >>> base = dict(run_id="r", scenario_id="s", scenario={}, agent="a", seed=0, episode=0, returns={}, team_return=0.0,
    ...             aggregation="sum", length=1, terminated=False, truncated=True, wall_time_s=0.0, deterministic=True, created_at="")
    >>> success_rate([EpisodeRecord(**base, success=s) for s in (True, True, False, True)])[0]
    0.75
    """
    from testbed.metrics import mean

    flags = np.array([float(r.success) for r in recs if r.success is not None])
    if flags.size == 0:
        return None, None
    return float(flags.mean()), bootstrap_ci(flags, mean, reps=reps, seed=seed)


def success_text(rate: float | None, ci: tuple[float, float] | None) -> str:
    """``0.95 [0.90, 0.99]``, or empty without a success flag."""
    if rate is None or ci is None:
        return ""
    return f"{rate:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def _team_means(recs: list[EpisodeRecord]) -> dict[str, float]:
    per_episode = [team_returns(r.returns) for r in recs]
    return {t: float(np.mean([e[t] for e in per_episode])) for t in per_episode[0]}
