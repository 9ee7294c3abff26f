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
        rows.append(SummaryRow(
            agent=agent, checkpoint=checkpoint or None, scenario_id=scenario_id, aggregation=aggregation,
            episodes=len(recs), mean=float(x.mean()), iqm=iqm(x), ci_low=lo, ci_high=hi,
            mean_length=float(np.mean([r.length for r in recs])),
            team_means=_team_means(recs), name=name, trained_on=trained_on or None,
        ))
    return rows


def _team_means(recs: list[EpisodeRecord]) -> dict[str, float]:
    per_episode = [team_returns(r.returns) for r in recs]
    return {t: float(np.mean([e[t] for e in per_episode])) for t in per_episode[0]}
