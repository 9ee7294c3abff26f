"""The command line's result tables (rich), built from episode records: the summary per agent x
scenario, the robustness over a grid, and the return per attack budget."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.table import Table

from testbed.records import EpisodeRecord


def summary_table(records: Sequence[EpisodeRecord]) -> Table:
    """Team return per agent x scenario: episodes, mean, IQM with its bootstrap CI, length, per-team means."""
    from testbed.summary import summarize

    aggregations = ", ".join(sorted({r.aggregation for r in records}))
    rows = summarize(list(records))
    by_team = any(len(row.team_means) > 1 for row in rows)
    table = Table("scenario", "agent", "episodes", "mean", "IQM [95% CI]", "length", *(["per team (mean)"] if by_team else []),
                  title=f"team return ({aggregations} over agents)")
    for row in rows:
        agent = row.agent + (f"\n[dim]{row.checkpoint}[/]" if row.checkpoint else "")
        teams_txt = [", ".join(f"{t} {v:.1f}" for t, v in row.team_means.items())] if by_team else []
        table.add_row(row.scenario_id, agent, str(row.episodes), f"{row.mean:.1f}",
                      f"{row.iqm:.1f} [{row.ci_low:.1f}, {row.ci_high:.1f}]", f"{row.mean_length:.0f}", *teams_txt)
    return table


def robustness_table(records: Sequence[EpisodeRecord]) -> Table | None:
    """Nominal, worst, 10th percentile and mean over each grid, with the worst point (None without a grid)."""
    from testbed.grid import robustness

    rows = robustness(list(records))
    if not rows:
        return None
    table = Table("scenario", "agent", "grid points", "nominal", "worst", "10th pct", "mean", "worst point",
                  title="robustness over the grid (mean team return per point)")
    for r in rows:
        agent = r.agent + (f"\n[dim]{r.checkpoint}[/]" if r.checkpoint else "")
        point = ", ".join(f"{k}={v:.3g}" for k, v in r.worst_point.items())
        table.add_row(r.scenario_id, agent, f"{r.points} x {r.episodes_per_point}", f"{r.nominal:.1f}", f"{r.worst:.1f}",
                      f"{r.p10:.1f}", f"{r.mean:.1f}", point)
    return table


def attack_table(records: Sequence[EpisodeRecord], title: str) -> Table:
    """Episodes, mean and IQM with its bootstrap CI per attack and budget ``params['eps']``; with
    two or more attacks, a last row per budget gives the worst of them (lowest mean)."""
    from testbed.attack_summary import worst_of_attacks
    from testbed.metrics import bootstrap_ci, iqm

    kinds = list(dict.fromkeys(r.params["attack"] for r in records))
    table = Table("attack", "eps", "episodes", "mean", "IQM [95% CI]", title=title)
    for kind in kinds:
        for eps in sorted({float(r.params["eps"]) for r in records if r.params["attack"] == kind}):
            x = np.array([r.team_return for r in records if float(r.params["eps"]) == eps and r.params["attack"] == kind])
            lo, hi = bootstrap_ci(x)
            table.add_row(kind, f"{eps:g}", str(len(x)), f"{x.mean():.1f}", f"{iqm(x):.1f} [{lo:.1f}, {hi:.1f}]")
    if len(kinds) > 1:
        for eps, (value, kind) in worst_of_attacks(list(records)).items():
            table.add_row("[bold]worst[/]", f"{eps:g}", "", f"[bold]{value:.1f}[/]", f"({kind})")
    return table
