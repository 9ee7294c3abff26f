"""The report's figures, each a pure function of episode records returning SVG text
(matplotlib, Agg backend, no files): interval estimates, performance profiles,
learning curves, robustness heatmaps per condition and attack curves."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from testbed import aggregate  # noqa: E402
from testbed.records import EpisodeRecord, split_unstable  # noqa: E402


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def label(r: EpisodeRecord) -> str:
    """An agent's label in figures: its name, plus the checkpoint folder's name."""
    return r.agent if not r.checkpoint else f"{r.agent} ({Path(r.checkpoint).name})"


def nominal(records: list[EpisodeRecord]) -> list[EpisodeRecord]:
    """Episodes evaluated without a grid point, a search point or an attack."""
    from testbed.study import nominal as nominal_episodes

    return nominal_episodes(records)


def interval_estimates(records: list[EpisodeRecord]) -> str | None:
    """IQM of the team return with a 95% bootstrap CI per agent, one panel per scenario."""
    by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in nominal(records):
        by[r.scenario_id][r.agent].append(r.team_return)
    if not by:
        return None
    fig, axes = plt.subplots(1, len(by), figsize=(4.2 * len(by), 0.5 + 0.45 * max(len(v) for v in by.values())), squeeze=False)
    for ax, (sid, agents_) in zip(axes[0], sorted(by.items())):
        names = sorted(agents_)
        for i, name in enumerate(names):
            x = np.array(agents_[name])
            lo, hi = aggregate.stratified_bootstrap_ci(x, aggregate.iqm, reps=1000)
            ax.plot([lo, hi], [i, i], lw=6, alpha=0.5, color="C0")
            ax.plot([aggregate.iqm(x)], [i], "k|", ms=14)
        ax.set_yticks(range(len(names)), names)
        ax.set_title(sid, fontsize=9)
        ax.set_xlabel("IQM team return (95% CI)")
    return _svg(fig)


def performance_profiles(records: list[EpisodeRecord]) -> str | None:
    """Fraction of episodes above tau, returns min-max normalized per scenario over all agents."""
    nom = nominal(records)
    by_sc: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for r in nom:
        by_sc[r.scenario_id].append(r)
    scores: dict[str, list[float]] = defaultdict(list)
    for recs in by_sc.values():
        x = np.array([r.team_return for r in recs])
        span = x.max() - x.min() or 1.0
        for r, v in zip(recs, (x - x.min()) / span):
            scores[r.agent].append(float(v))
    if len(scores) < 1 or not nom:
        return None
    taus = np.linspace(0, 1, 41)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, vals in sorted(scores.items()):
        profile, band = aggregate.performance_profile(np.array(vals), taus, reps=500)
        ax.plot(taus, profile, label=name)
        ax.fill_between(taus, band[0], band[1], alpha=0.2)
    ax.set_xlabel("normalized return tau (min-max per scenario)")
    ax.set_ylabel("fraction of episodes > tau")
    ax.legend(fontsize=8)
    return _svg(fig)


def learning_curves(records: list[EpisodeRecord]) -> str | None:
    """Mean team return vs the training steps of each evaluated checkpoint (from its agent.json)."""
    points: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in nominal(records):
        if not r.checkpoint:
            continue
        try:
            steps = int(json.loads((Path(r.checkpoint) / "agent.json").read_text()).get("steps", 0))
        except (OSError, ValueError):
            continue
        points[(r.scenario_id, r.agent)][steps].append(r.team_return)
    curves = {k: v for k, v in points.items() if len(v) >= 2}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for (sid, agent), by_steps in sorted(curves.items()):
        xs = sorted(by_steps)
        ys = [np.mean(by_steps[s]) for s in xs]
        ax.plot(xs, ys, marker="o", label=f"{agent} on {sid}")
    ax.set_xlabel("training steps of the checkpoint")
    ax.set_ylabel("mean team return")
    ax.legend(fontsize=8)
    return _svg(fig)


def attack_curves(records: list[EpisodeRecord]) -> str | None:
    """Mean team return vs attack budget, one line per (agent, attack)."""
    lines: dict[tuple[str, str, str], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if "attack" in r.params:
            lines[(r.scenario_id, label(r), r.params["attack"])][float(r.params["eps"])].append(r.team_return)
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for (sid, name, kind), by_eps in sorted(lines.items()):
        xs = sorted(by_eps)
        ax.plot(xs, [np.mean(by_eps[x]) for x in xs], marker="o", label=f"{name}, {kind} ({sid})")
    for (sid, name), worst in sorted(worst_of_attacks(records).items()):
        xs = sorted(worst)
        ax.plot(xs, [worst[x][0] for x in xs], color="black", linestyle="--", linewidth=2,
                label=f"{name}, worst of attacks ({sid})")
    ax.set_xlabel("eps (std units)")
    ax.set_ylabel("mean team return")
    ax.legend(fontsize=7)
    return _svg(fig)


def worst_of_attacks(records: list[EpisodeRecord]) -> dict[tuple[str, str], dict[float, tuple[float, str]]]:
    """Per (scenario, agent label) evaluated under two or more attacks: ``attack_summary.worst_of_attacks``."""
    from testbed.attack_summary import worst_of_attacks as worst

    groups: dict[tuple[str, str], list[EpisodeRecord]] = defaultdict(list)
    for r in records:
        if "attack" in r.params:
            groups[(r.scenario_id, label(r))].append(r)
    return {key: worst(recs) for key, recs in groups.items() if len({r.params["attack"] for r in recs}) > 1}


def worst_case_searches(records: list[EpisodeRecord]) -> list[tuple[str, str]]:
    """One scatter per worst-case search over one or two parameters: every evaluated point
    coloured (2-D) or placed (1-D) by its mean team return, the worst point marked; points where an
    episode's physics went unstable are left out (``split_unstable``), as the search left them out."""
    runs: dict[tuple[str, str, str], list[EpisodeRecord]] = defaultdict(list)
    for r in split_unstable(records)[0]:
        if "search" in r.params and r.params.get("grid"):
            runs[(r.scenario_id, label(r), r.run_id)].append(r)
    out = []
    for (sid, name, _), recs in sorted(runs.items()):
        keys = sorted(recs[0].params["grid"])
        if len(keys) > 2:
            continue
        cells: dict[tuple[float, ...], list[float]] = defaultdict(list)
        for r in recs:
            cells[tuple(r.params["grid"][k] for k in keys)].append(r.team_return)
        pts = np.array(list(cells))
        vals = np.array([np.mean(v) for v in cells.values()])
        worst = int(np.argmin(vals))
        fig, ax = plt.subplots(figsize=(5, 4))
        if len(keys) == 2:
            sc = ax.scatter(pts[:, 0], pts[:, 1], c=vals, cmap="viridis", s=30)
            ax.scatter([pts[worst, 0]], [pts[worst, 1]], marker="x", color="red", s=90, label="worst found")
            fig.colorbar(sc, label="mean team return")
            ax.set_ylabel(keys[1])
        else:
            ax.scatter(pts[:, 0], vals, s=20)
            ax.scatter([pts[worst, 0]], [vals[worst]], marker="x", color="red", s=90, label="worst found")
            ax.set_ylabel("mean team return")
        ax.set_xlabel(keys[0])
        ax.legend(fontsize=7)
        ax.set_title(f"{name} on {sid} ({recs[0].params['search']}, {len(cells)} points)", fontsize=9)
        out.append((f"{name} on {sid}", _svg(fig)))
    return out


def _heat(ax: plt.Axes, xs: list[float], ys: list[float], grid: np.ndarray, k1: str, k2: str, cmap: str,
          label_: str, fig: plt.Figure, center: bool = False) -> None:
    lim = np.nanmax(np.abs(grid)) if center and np.isfinite(grid).any() else None
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=-lim if lim else None, vmax=lim)
    ax.set_xticks(range(len(xs)), [f"{v:.2g}" for v in xs], fontsize=7)
    ax.set_yticks(range(len(ys)), [f"{v:.2g}" for v in ys], fontsize=7)
    ax.set_xlabel(k1)
    ax.set_ylabel(k2)
    fig.colorbar(im, ax=ax, label=label_)


def _grid_matrix(cells: dict[tuple[float, ...], Any]) -> tuple[list[float], list[float], np.ndarray]:
    xs = sorted({p[0] for p in cells})
    ys = sorted({p[1] for p in cells})
    grid = np.full((len(ys), len(xs)), np.nan)
    for (a, b), est in cells.items():
        grid[ys.index(b), xs.index(a)] = est.value
    return xs, ys, grid


def condition_heatmaps(records: list[EpisodeRecord], cells: dict | None = None) -> list[tuple[str, str]]:
    """Per condition x scenario x two-parameter grid: each point's IQM over seeds of per-policy mean returns;
    then, for every pair of conditions evaluated on the same grid, the difference of the two.
    ``cells``: ``testbed.study.grid_cells(records)`` if the caller has it already."""
    from testbed.study import condition_text, grid_cells

    cells = {k: v for k, v in (grid_cells(records) if cells is None else cells).items() if len(k[2]) == 2}
    out = []
    for (cond, sid, axes), points in sorted(cells.items()):
        xs, ys, grid = _grid_matrix(points)
        fig, ax = plt.subplots(figsize=(5, 4))
        _heat(ax, xs, ys, grid, axes[0], axes[1], "viridis", "IQM over seeds of mean team return", fig)
        seeds = max(len(e.per_seed) for e in points.values())
        name = f"{condition_text(cond)} on {sid} ({seeds} seeds)"
        ax.set_title(name, fontsize=8)
        out.append((name, _svg(fig)))
    by_grid: dict[tuple[str, tuple[str, ...]], list[Any]] = defaultdict(list)
    for (cond, sid, axes), points in sorted(cells.items()):
        by_grid[(sid, axes)].append((cond, points))
    for (sid, axes), conds in sorted(by_grid.items()):
        for i in range(len(conds)):
            for j in range(i + 1, len(conds)):
                (ca, pa), (cb, pb) = conds[i], conds[j]
                common = {p: pa[p] for p in pa if p in pb}
                if not common:
                    continue
                xs, ys, ga = _grid_matrix(common)
                _, _, gb = _grid_matrix({p: pb[p] for p in common})
                fig, ax = plt.subplots(figsize=(5, 4))
                _heat(ax, xs, ys, ga - gb, axes[0], axes[1], "RdBu", "difference of IQMs", fig, center=True)
                name = f"{condition_text(ca)} minus {condition_text(cb)} on {sid}"
                ax.set_title(name, fontsize=8)
                out.append((name, _svg(fig)))
    return out


def grid_curves(records: list[EpisodeRecord], cells: dict | None = None) -> list[tuple[str, str]]:
    """One-parameter grids: return vs the parameter per condition (IQM over seeds, 95% CI band);
    ``cells`` as for ``condition_heatmaps``."""
    from testbed.study import condition_text, grid_cells

    by: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for (cond, sid, axes), points in sorted((grid_cells(records) if cells is None else cells).items()):
        if len(axes) == 1:
            by[(sid, axes[0])].append((cond, points))
    out = []
    for (sid, axis), conds in sorted(by.items()):
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        for cond, points in conds:
            xs = sorted(points)
            ax.plot([x[0] for x in xs], [points[x].value for x in xs], marker="o", label=condition_text(cond))
            ax.fill_between([x[0] for x in xs], [points[x].low for x in xs], [points[x].high for x in xs], alpha=0.2)
        ax.set_xlabel(axis)
        ax.set_ylabel("IQM over seeds of mean team return")
        ax.legend(fontsize=7)
        out.append((f"{axis} on {sid}", _svg(fig)))
    return out


def training_curves(records: list[EpisodeRecord]) -> str | None:
    """Training episode return vs environment steps per condition (mean over seeds), from each checkpoint's
    ``history.json`` (written by experiment jobs)."""
    from testbed.study import condition, condition_text

    seen: dict[str, Any] = {}
    for r in records:
        if r.checkpoint and r.checkpoint not in seen:
            seen[r.checkpoint] = condition(r)
    curves: dict[Any, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for ckpt, cond in seen.items():
        try:
            rows = json.loads((Path(ckpt) / "history.json").read_text())
        except (OSError, ValueError):
            continue
        pts = [(int(row["steps"]), float(row["episode_return"])) for row in rows if "episode_return" in row and "steps" in row]
        if len(pts) >= 2:
            curves[cond].append((np.array([p[0] for p in pts]), np.array([p[1] for p in pts])))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for cond, runs in sorted(curves.items()):
        grid = np.linspace(0, min(x[-1] for x, _ in runs), 50)
        ys = np.array([np.interp(grid, x, y) for x, y in runs])
        ax.plot(grid, ys.mean(0), label=f"{condition_text(cond)} ({len(runs)} seeds)")
        if len(runs) > 1:
            ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.15)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("training episode return")
    ax.legend(fontsize=7)
    return _svg(fig)
