"""Write a self-contained HTML report: tables and inline SVG figures, optional GIF videos.

The page marks itself when loaded: ``<body data-figures="N" data-errors="...">``
counts the rendered figures and collects script errors, so a headless browser
test can check it renders.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from testbed.records import EpisodeRecord
from testbed.report import figures
from testbed.summary import summarize

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, td:nth-child(2) { text-align: left; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 560px; }
"""
SCRIPT = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
window.addEventListener('load', () => {
  const svgs = document.querySelectorAll('figure svg');
  let ok = 0;
  svgs.forEach(s => { const b = s.getBBox(); if (b.width > 0 && b.height > 0) ok += 1; });
  document.querySelectorAll('figure img').forEach(i => { if (i.naturalWidth > 0) ok += 1; });
  document.body.dataset.figures = String(ok);
  document.body.dataset.errors = window.__errors.join(' | ');
});
"""


def _figure(svg: str | None, caption: str, fid: str) -> str:
    if svg is None:
        return ""
    return f'<figure id="{fid}">{svg}<figcaption>{html.escape(caption)}</figcaption></figure>'


def _summary_table(records: list[EpisodeRecord]) -> str:
    from testbed.summary import success_text

    rows = summarize(records)
    trained = any(r.trained_on for r in rows)
    succ = any(r.success is not None for r in rows)
    body = "".join(
        f"<tr><td>{html.escape(r.scenario_id)}</td><td>{html.escape(r.name)}</td>"
        + (f"<td>{html.escape(r.trained_on or '')}</td>" if trained else "")
        + f"<td>{r.episodes}</td><td>{r.mean:.1f}</td><td>{r.iqm:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}]</td>"
        + (f"<td>{success_text(r.success, r.success_ci)}</td>" if succ else "")
        + f"<td>{r.mean_length:.0f}</td><td>{html.escape(', '.join(f'{t} {v:.1f}' for t, v in r.team_means.items()))}</td></tr>"
        for r in rows
    )
    return ("<table><tr><th>evaluated on</th><th>policy</th>" + ("<th>trained on</th>" if trained else "")
            + "<th>episodes</th><th>mean</th><th>IQM [95% CI]</th>" + ("<th>success [95% CI]</th>" if succ else "")
            + f"<th>length</th><th>per team</th></tr>{body}</table>")


def _grid_success_table(records: list[EpisodeRecord]) -> str:
    """Success rate over each grid (sources with a success flag): nominal, worst and mean over the points."""
    from testbed.grid import robustness

    rows = [r for r in robustness(records) if r.success_mean is not None]
    rate = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    body = "".join(
        f"<tr><td>{html.escape(r.scenario_id)}</td><td>{html.escape(r.agent)}</td><td>{r.points} x {r.episodes_per_point}</td>"
        f"<td>{rate(r.success_nominal)}</td><td>{rate(r.success_worst)}</td><td>{rate(r.success_mean)}</td></tr>" for r in rows)
    return ("<table><tr><th>evaluated on</th><th>agent</th><th>grid points x episodes</th><th>success: nominal</th>"
            f"<th>worst point</th><th>mean over points</th></tr>{body}</table>") if rows else ""


def _transfer_table(records: list[EpisodeRecord]) -> str:
    from testbed.study import condition_text, transfer

    rows = transfer(records)
    body = "".join(
        f"<tr><td>{html.escape(condition_text(r.condition))}</td><td>{html.escape(r.scenario_id)}</td><td>{r.seeds}</td>"
        f"<td>{r.episodes}</td><td>{r.estimate.text()}</td><td>{r.gap.text() if r.gap else ''}</td></tr>" for r in rows)
    return ("<table><tr><th>condition</th><th>evaluated on</th><th>seeds</th><th>episodes</th><th>IQM over seeds [95% CI]</th>"
            f"<th>gap to training scenario [95% CI]</th></tr>{body}</table>")


def _grid_table(records: list[EpisodeRecord]) -> str:
    from testbed.study import condition_text, grid_study

    rows = grid_study(records)
    body = "".join(
        f"<tr><td>{html.escape(condition_text(r.condition))}</td><td>{html.escape(r.scenario_id)}</td>"
        f"<td>{html.escape(' x '.join(r.axes))} ({r.points})</td><td>{r.seeds}</td><td>{r.nominal.text() if r.nominal else ''}</td>"
        f"<td>{r.worst.text()}</td><td>{r.p10.text()}</td><td>{r.mean.text()}</td></tr>" for r in rows)
    return ("<table><tr><th>condition</th><th>evaluated on</th><th>grid (points)</th><th>seeds</th><th>nominal</th>"
            f"<th>worst</th><th>10th pct</th><th>mean</th></tr>{body}</table>") if rows else ""


def _section(title: str, content: str, empty: str) -> list[str]:
    """A section with its content, or a sentence saying why there is none."""
    return [f"<h2>{html.escape(title)}</h2>", content or f"<p class='empty'>{html.escape(empty)}</p>"]


def write_report(records: list[EpisodeRecord], out_dir: str | Path, title: str = "testbed report",
                 videos: list[tuple[str, Path]] | None = None) -> Path:
    """Write ``out_dir/index.html`` (figures inline) for ``records``; ``videos`` are (caption, GIF path) pairs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    aggregations = ", ".join(sorted({r.aggregation for r in records}))
    nominal = figures.nominal(records)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(records)} episodes ({len(nominal)} nominal); team return = {aggregations} over agents; intervals are 95% "
        f"percentile-bootstrap CIs, over episodes per policy and over training seeds per condition (a condition is an "
        f"agent label x training scenario). Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
        *_section("Summary (nominal episodes)", _summary_table(nominal) if nominal else "",
                  "No nominal episodes: every episode here was evaluated on a grid point, a search point or under an attack."),
        *_section("Over seeds: trained on x evaluated on", _transfer_table(nominal) if nominal else "",
                  "No nominal episodes to aggregate."),
        *_section("Interval estimates", _figure(figures.interval_estimates(records), "IQM of the team return per agent with a "
                                                "95% bootstrap CI (nominal episodes).", "fig-intervals"), "No nominal episodes."),
        *_section("Performance profiles", _figure(figures.performance_profiles(records), "Fraction of episodes whose return "
                                                  "(min-max normalized per scenario over all agents) exceeds tau.", "fig-profiles"),
                  "No nominal episodes."),
    ]
    training = figures.training_curves(records)
    curves = training or figures.learning_curves(records)
    parts += _section("Learning curves", _figure(curves, "Training episode return vs environment steps, mean over seeds "
                                                 "(band: min-max over seeds)." if training else
                                                 "Mean team return of checkpoints vs their training steps.", "fig-learning"),
                      "No training history: the checkpoints have no history.json (experiment jobs write one) "
                      "and no agent was evaluated at two or more budgets.")
    from testbed.study import grid_cells

    cells = grid_cells(records)  # every grid point's IQM over seeds, bootstrapped once for both figure kinds
    grid_parts = [_grid_table(records), _grid_success_table(records)]
    heatmaps = figures.condition_heatmaps(records, cells)
    grid_parts += [_figure(svg, f"{name}: each grid point's IQM over seeds of the per-seed mean team return." if " minus " not in name
                           else f"{name}: difference of the two conditions' per-point IQMs.", f"fig-heat-{i}")
                   for i, (name, svg) in enumerate(heatmaps)]
    grid_parts += [_figure(svg, f"Return over the grid {name}: IQM over seeds (band: 95% CI).", f"fig-curve-{i}")
                   for i, (name, svg) in enumerate(figures.grid_curves(records, cells))]
    parts += _section("Robustness over grids", "".join(grid_parts), "No grid evaluations in these records.")
    searches = figures.worst_case_searches(records)
    parts += _section("Worst-case searches", "".join(
        _figure(svg, f"Points a worst-case search evaluated, by mean team return: {name}.", f"fig-search-{i}")
        for i, (name, svg) in enumerate(searches)), "No worst-case searches in these records.")
    attacks = figures.attack_curves(records)
    parts += _section("Observation attacks", _figure(attacks, "Mean team return vs attack budget eps (per-dimension std "
                                                     "units); dashed: the worst of the attacks at each budget.", "fig-attacks"),
                      "No attacked episodes in these records.")
    if videos:
        parts.append("<h2>Episodes</h2>")
        for i, (caption, gif) in enumerate(videos):
            rel = gif.relative_to(out) if gif.is_relative_to(out) else gif
            parts.append(f'<figure id="video-{i}"><img src="{html.escape(str(rel))}" alt="{html.escape(caption)}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>{''.join(parts)}</body></html>")
    path = out / "index.html"
    path.write_text(page)
    return path
