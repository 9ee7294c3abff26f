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
    rows = summarize(records)
    body = "".join(
        f"<tr><td>{html.escape(r.scenario_id)}</td><td>{html.escape(r.agent)}"
        f"{'<br><small>' + html.escape(r.checkpoint) + '</small>' if r.checkpoint else ''}</td>"
        f"<td>{r.episodes}</td><td>{r.mean:.1f}</td><td>{r.iqm:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}]</td>"
        f"<td>{r.mean_length:.0f}</td><td>{html.escape(', '.join(f'{t} {v:.1f}' for t, v in r.team_means.items()))}</td></tr>"
        for r in rows
    )
    return ("<table><tr><th>scenario</th><th>agent</th><th>episodes</th><th>mean</th><th>IQM [95% CI]</th>"
            f"<th>length</th><th>per team</th></tr>{body}</table>")


def write_report(records: list[EpisodeRecord], out_dir: str | Path, title: str = "testbed report",
                 videos: list[tuple[str, Path]] | None = None) -> Path:
    """Write ``out_dir/index.html`` (figures inline) for ``records``; ``videos`` are (caption, GIF path) pairs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    aggregations = ", ".join(sorted({r.aggregation for r in records}))
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(records)} episodes; team return = {aggregations} over agents; intervals are 95% "
        f"percentile-bootstrap CIs. Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
        "<h2>Summary</h2>", _summary_table(figures.nominal(records) or records),
        "<h2>Interval estimates</h2>",
        _figure(figures.interval_estimates(records), "IQM of the team return per agent with a 95% bootstrap CI (nominal episodes).", "fig-intervals"),
        "<h2>Performance profiles</h2>",
        _figure(figures.performance_profiles(records), "Fraction of episodes whose return (min-max normalized per scenario over all agents) exceeds tau.", "fig-profiles"),
    ]
    curves = figures.learning_curves(records)
    if curves:
        parts += ["<h2>Learning curves</h2>", _figure(curves, "Mean team return of checkpoints vs their training steps.", "fig-learning")]
    heatmaps = figures.robustness_heatmaps(records)
    if heatmaps:
        parts.append("<h2>Robustness heatmaps</h2>")
        parts += [_figure(svg, f"Mean team return per grid point: {name}.", f"fig-heat-{i}") for i, (name, svg) in enumerate(heatmaps)]
    searches = figures.worst_case_searches(records)
    if searches:
        parts.append("<h2>Worst-case searches</h2>")
        parts += [_figure(svg, f"Points a worst-case search evaluated, by mean team return: {name}.", f"fig-search-{i}")
                  for i, (name, svg) in enumerate(searches)]
    attacks = figures.attack_curves(records)
    if attacks:
        parts += ["<h2>Observation attacks</h2>", _figure(attacks, "Mean team return vs attack budget eps (per-dimension std units); "
                                                                 "dashed: the worst of the attacks at each budget.", "fig-attacks")]
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
