"""The command line's result tables (rich), built from episode records: the summary per agent x
scenario, the robustness over a grid, and the return per attack budget."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

from testbed.records import EpisodeRecord


def summary_table(records: Sequence[EpisodeRecord]) -> Table | None:
    """Nominal episodes' team return per policy x scenario: episodes, mean, IQM with its bootstrap CI over
    episodes, length, per-team means (grid, search and attacked episodes have their own tables)."""
    from testbed.study import nominal
    from testbed.summary import summarize

    records = nominal(list(records))
    if not records:
        return None
    aggregations = ", ".join(sorted({r.aggregation for r in records}))
    rows = summarize(records)
    from testbed.summary import success_text

    by_team = any(len(row.team_means) > 1 for row in rows)
    trained = any(row.trained_on for row in rows)
    succ = any(row.success is not None for row in rows)
    table = Table("evaluated on", "policy", *(["trained on"] if trained else []), "episodes", "mean", "IQM [95% CI]",
                  *(["success [95% CI]"] if succ else []), "length", *(["per team (mean)"] if by_team else []),
                  title=f"nominal episodes: team return ({aggregations} over agents)"
                  + ("; success: fraction of episodes the source flags successful at their end" if succ else ""))
    for row in rows:
        teams_txt = [", ".join(f"{t} {v:.1f}" for t, v in row.team_means.items())] if by_team else []
        table.add_row(row.scenario_id, row.name, *([row.trained_on or ""] if trained else []), str(row.episodes),
                      f"{row.mean:.1f}", f"{row.iqm:.1f} [{row.ci_low:.1f}, {row.ci_high:.1f}]",
                      *([success_text(row.success, row.success_ci)] if succ else []), f"{row.mean_length:.0f}",
                      *teams_txt)
    return table


def transfer_table(records: Sequence[EpisodeRecord]) -> Table | None:
    """Trained on x evaluated on, over seeds: IQM of per-seed mean nominal returns [95% CI over seeds],
    and the gap to the training scenario (mean over seeds of the paired differences) [CI]."""
    from testbed.study import condition_text, transfer

    rows = [r for r in transfer(list(records)) if r.seeds > 1 or r.gap is not None]
    if not rows:
        return None
    table = Table("condition", "evaluated on", "seeds", "episodes", "IQM over seeds [95% CI]", "gap to training scenario [95% CI]",
                  title="over seeds: nominal episodes, trained on x evaluated on")
    for r in rows:
        table.add_row(condition_text(r.condition), r.scenario_id, str(r.seeds), str(r.episodes), r.estimate.text(),
                      r.gap.text() if r.gap else "")
    return table


def grid_study_table(records: Sequence[EpisodeRecord], rows: list | None = None) -> Table | None:
    """Per condition x grid: nominal, worst, 10th percentile and mean over the grid, IQM over seeds [95% CI]
    (``rows``: ``testbed.study.grid_study(records)`` if the caller has it already)."""
    from testbed.study import condition_text, grid_study

    rows = grid_study(list(records)) if rows is None else rows
    if not rows:
        return None
    table = Table("condition", "evaluated on", "grid", "seeds", "nominal", "worst", "10th pct", "mean",
                  title="robustness over each grid: per-seed statistics of per-point mean returns, IQM over seeds [95% CI]")
    for r in rows:
        table.add_row(condition_text(r.condition), r.scenario_id, f"{' x '.join(r.axes)} ({r.points} points)", str(r.seeds),
                      r.nominal.text() if r.nominal else "", r.worst.text(), r.p10.text(), r.mean.text())
    return table


def robustness_table(records: Sequence[EpisodeRecord]) -> Table | None:
    """Nominal, worst, 10th percentile and mean over each grid, with the worst point (None without a grid)."""
    from testbed.grid import robustness

    rows = robustness(list(records))
    if not rows:
        return None
    succ = any(r.success_mean is not None for r in rows)
    table = Table("scenario", "agent", "grid points", "nominal", "worst", "10th pct", "mean", "worst point",
                  *(["success: nominal", "worst", "mean"] if succ else []),
                  title="robustness over the grid (mean team return per point"
                  + ("; success rate per point" if succ else "") + ")")
    for r in rows:
        agent = r.agent + (f" · {Path(r.checkpoint).name}" if r.checkpoint else "")
        point = ", ".join(f"{k}={v:.3g}" for k, v in r.worst_point.items())
        rate = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        left_out = f" ({r.unstable_points} unstable left out)" if r.unstable_points else ""
        table.add_row(r.scenario_id, agent, f"{r.points} x {r.episodes_per_point}{left_out}", f"{r.nominal:.1f}",
                      f"{r.worst:.1f}", f"{r.p10:.1f}", f"{r.mean:.1f}", point,
                      *([rate(r.success_nominal), rate(r.success_worst), rate(r.success_mean)] if succ else []))
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
