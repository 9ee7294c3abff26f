"""Grid evaluation: one agent over the Cartesian product of physical-parameter grids.

An axis is written ``FIELD[.NAME][[COMPONENT]][@OP]=LOW:HIGH:N`` with both
endpoints included (RRLS's grids omit the upper bound; ours do not), e.g.
``body_mass.torso=0.5:1.5:10`` (scale of the nominal), ``geom_friction=0.1:4:10``
(every geom's sliding friction), ``body_mass.torso@set=0.1:7:10`` (absolute kg),
``gravity.z@set=-12:-8:5``, or for mpe2 ``mass.agent_0=0.5:2:4``. Each grid
point appends a constant-valued dynamics layer to the scenario; the nominal
scenario is evaluated too. All episodes share one ``run_id`` and carry
``params["grid"]`` (the point, ``{}`` for nominal).
"""

from __future__ import annotations

import itertools
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios import LayerSpec, Scenario, ScenarioSpec, UserError
from scenarios.batch import batch_unsupported, make_batch
from scenarios.layers.dynamics import FIELDS as MUJOCO_FIELDS
from scenarios.layers.particle_dynamics import MPE_FIELDS, MULTIWALKER_FIELDS
from testbed.harness import evaluate, run_episodes
from testbed.records import EpisodeRecord, GridPoint, grid_point, split_unstable
from testbed.store import ResultsStore

_AXIS = re.compile(r"^(?P<field>[a-z_]+)(?:\.(?P<name>[^@\[=]+))?(?:\[(?P<comp>\d+)\])?(?:@(?P<op>scale|add|set))?=(?P<lo>[-+0-9.eE]+):(?P<hi>[-+0-9.eE]+):(?P<n>\d+)$")
BATCH_SIMULATIONS = 64
"""Simulations a batched grid evaluation spreads a few points' episodes over (one per point when there are more)."""
_LAYER = {**{f: "dynamics" for f in MUJOCO_FIELDS}, **{f: "mpe_dynamics" for f in MPE_FIELDS},
          **{f: "multiwalker_dynamics" for f in MULTIWALKER_FIELDS}}


@dataclass(frozen=True)
class GridAxis:
    """One grid dimension: which parameter, how it is applied, and its values."""

    label: str
    layer: str
    field: str
    name: str | None
    component: int | None
    operation: str
    values: tuple[float, ...]

    def entry(self, value: float) -> dict[str, Any]:
        """The dynamics-layer parameter entry that pins this axis at ``value``."""
        entry: dict[str, Any] = {"field": self.field, "operation": self.operation, "distribution": "constant", "value": value}
        if self.component is not None:
            entry["component"] = self.component
        if self.name is not None:
            entry["names"] = [self.name]
        return entry


def parse_axis(text: str, flag: str = "--grid", shown: str | None = None) -> GridAxis:
    """Parse ``FIELD[.NAME][[K]][@OP]=LOW:HIGH:N`` into a GridAxis (UserError on bad syntax, naming
    ``flag``, the option the text came from, and ``shown``, the text as the user wrote it)."""
    given = text if shown is None else shown
    m = _AXIS.match(text.strip())
    if not m:
        raise UserError(f"bad {flag} '{given}': expected FIELD[.NAME][@scale|add|set]=LOW:HIGH:N, e.g. body_mass.torso=0.5:1.5:10")
    field, name = m["field"], m["name"]
    if field not in _LAYER:
        raise UserError(f"bad {flag} '{given}': unknown field '{field}' (valid: {', '.join(sorted(_LAYER))})")
    component = int(m["comp"]) if m["comp"] else None
    if field in ("gravity", "wind") and name is not None:
        if name not in ("x", "y", "z"):
            raise UserError(f"bad {flag} '{given}': {field} takes an axis x, y or z")
        component, name = "xyz".index(name), None
    n = int(m["n"])
    if n < 1:
        raise UserError(f"bad {flag} '{given}': N must be at least 1")
    lo, hi = float(m["lo"]), float(m["hi"])
    if not (math.isfinite(lo) and math.isfinite(hi)):  # 1e400 reads as inf: linspace warned, then NaN points
        raise UserError(f"bad {flag} '{given}': LOW and HIGH must be finite numbers (got {m['lo']} and {m['hi']})")
    op = m["op"] or "scale"
    if op == "scale" and min(lo, hi) <= 0:
        raise UserError(f"bad {flag} '{given}': a scale must be > 0 (use @set for absolute values)")
    values = tuple(float(v) for v in np.linspace(lo, hi, n))
    return GridAxis(text.split("=")[0], _LAYER[field], field, name, component, op, values)


MAX_POINTS = 100_000
"""More grid points than any evaluation here could run (every point's copies are built up front)."""


def grid_points(axes: list[GridAxis]) -> list[dict[str, float]]:
    """Every point of the Cartesian product, as ``{axis label: value}``. The same parameter on two axes
    (labels collide: the points would silently merge) and grids beyond ``MAX_POINTS`` are refused."""
    seen: dict[tuple[Any, ...], str] = {}
    for a in axes:
        key = (a.field, a.name, a.component)
        if key in seen:
            raise UserError(f"--grid {a.label} and {seen[key]} set the same parameter (valid: one axis per parameter)")
        seen[key] = a.label
    total = math.prod(len(a.values) for a in axes)  # Python's integers: NumPy's product could wrap past the cap
    if total > MAX_POINTS:
        raise UserError(f"the grid has {total} points, more than {MAX_POINTS} (valid: fewer values per axis)")
    return [dict(zip([a.label for a in axes], combo)) for combo in itertools.product(*[a.values for a in axes])]


def point_layers(axes: list[GridAxis], point: dict[str, float]) -> list[LayerSpec]:
    """One constant dynamics layer per layer type, pinning ``point``."""
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for axis in axes:
        by_layer.setdefault(axis.layer, []).append(axis.entry(point[axis.label]))
    return [LayerSpec(type=t, params={"mode": "reset", "parameters": p}) for t, p in by_layer.items()]


def point_spec(base: ScenarioSpec, axes: list[GridAxis], point: dict[str, float]) -> ScenarioSpec:
    """The base spec with the point's dynamics layers appended."""
    return base.model_copy(update={"layers": [*base.layers, *point_layers(axes, point)]})


def evaluate_grid(
    agent: Any,
    scenario: Scenario,
    axes: list[GridAxis],
    episodes: int,
    seed: int = 0,
    num_envs: int | None = None,
    deterministic: bool = True,
    checkpoint: str | None = None,
    store: ResultsStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend: str = "auto",
    points: list[dict[str, float]] | None = None,
    nominal: bool = True,
    run_id: str | None = None,
    extra_params: dict[str, Any] | None = None,
) -> list[EpisodeRecord]:
    """Evaluate ``agent`` at the nominal scenario and at every grid point, ``episodes`` each.

    The same episode seeds are used at every point, so points differ only in physics.
    Where a batched backend applies (MuJoCo tasks, mpe2's particle worlds), the whole
    grid is one batch: one simulation per point, each with its own physics. ``points`` restricts the
    evaluation to some points of the grid (a worst-case search passes its own),
    ``nominal=False`` leaves the nominal scenario out, ``run_id`` joins an existing
    run and ``extra_params`` is merged into every record's params.
    """
    points = grid_points(axes) if points is None else points
    run_id = run_id or uuid.uuid4().hex[:12]
    extra = dict(extra_params or {})
    labels: list[dict[str, float] | None] = [*([None] if nominal else []), *points]
    total = episodes * len(labels)
    if backend != "gymnasium" and points and batch_unsupported(point_spec(scenario.spec, axes, points[0])) is None:
        return _evaluate_grid_batched(agent, scenario, axes, labels, episodes, seed, deterministic, checkpoint, store,
                                      progress, run_id, extra)
    records: list[EpisodeRecord] = []
    for point in labels:
        sc = scenario if point is None else Scenario(point_spec(scenario.spec, axes, point))
        done = len(records)
        recs = evaluate(
            agent, sc, episodes=episodes, seed=seed, num_envs=num_envs, deterministic=deterministic,
            checkpoint=checkpoint, run_id=run_id, extra_params={**extra, "grid": point or {}}, store=store,
            backend=backend, progress=(lambda i, _n, done=done: progress(done + i, total)) if progress else None,
        )
        records.extend(recs)
    return records


def _evaluate_grid_batched(
    agent: Any, scenario: Scenario, axes: list[GridAxis], labels: list[dict[str, float] | None], episodes: int,
    seed: int, deterministic: bool, checkpoint: str | None, store: ResultsStore | None,
    progress: Callable[[int, int], None] | None, run_id: str, extra: dict[str, Any],
) -> list[EpisodeRecord]:
    """Every point (``None``: the nominal) in a single batch, ``episodes`` each.

    A point gets ``spread`` simulations (as many as fit in ``BATCH_SIMULATIONS`` in all, at least
    one): simulation ``j`` of a point runs its episodes ``j, j + spread, ...``, so a small set of
    points (a search's generation) runs its episodes side by side with the same seeds as one
    simulation per point would.
    """
    spread = max(1, min(episodes, BATCH_SIMULATIONS // len(labels)))
    copies = [(p, j) for p in range(len(labels)) for j in range(spread)]
    vec = make_batch(scenario.spec, len(copies), autoreset=False,
                     copy_layers=[[] if labels[p] is None else point_layers(axes, labels[p]) for p, _ in copies])  # type: ignore[arg-type]
    counters = [iter(range(j, episodes, spread)) for _, j in copies]
    try:
        return run_episodes(
            agent, vec, scenario, next_episode=lambda c: next(counters[c], None), total=episodes * len(labels),
            seed=seed, deterministic=deterministic, checkpoint=checkpoint, store=store, progress=progress,
            run_id=run_id, extra_params=lambda c: {**extra, "grid": labels[copies[c][0]] or {}},
        )
    finally:
        vec.close()


@dataclass
class RobustnessRow:
    """Robustness of one agent over one grid: per-point mean team returns summarized."""

    agent: str
    checkpoint: str | None
    scenario_id: str
    points: int
    episodes_per_point: int
    nominal: float
    worst: float
    p10: float
    mean: float
    worst_point: dict[str, float]
    success_nominal: float | None = None
    """Success rate at the nominal point (None: no success flag, or no nominal point)."""
    success_worst: float | None = None
    """Lowest per-point success rate over the grid (None: the source reports no success flag)."""
    success_mean: float | None = None
    """Mean over grid points of the per-point success rate."""
    unstable_points: int = 0
    """Grid points left out because an episode's physics went unstable there (``scenarios.instability``)."""


def robustness(records: list[EpisodeRecord]) -> list[RobustnessRow]:
    """Nominal, worst case, 10th percentile and mean of per-point mean returns, per agent x grid run; a
    point where any episode's physics went unstable is left out (``split_unstable``: its return is
    not a measurement) and counted in ``unstable_points``."""
    group = lambda r: (r.scenario_id, r.agent, r.checkpoint or "", r.run_id)  # noqa: E731
    kept, left_out = split_unstable(records)
    dropped: dict[tuple, set[GridPoint]] = {}
    for r in left_out:
        dropped.setdefault(group(r), set()).add(grid_point(r))
    groups: dict[tuple, list[EpisodeRecord]] = {}
    for r in kept:
        if "grid" in r.params:
            groups.setdefault(group(r), []).append(r)
    rows = []
    for key, recs in sorted(groups.items()):
        scenario_id, agent, checkpoint, _ = key
        per_point: dict[GridPoint, list[float]] = {}
        flags: dict[GridPoint, list[float]] = {}
        labels: dict[GridPoint, dict[str, float]] = {}
        for r in recs:
            point = grid_point(r)
            per_point.setdefault(point, []).append(r.team_return)
            if r.success is not None:
                flags.setdefault(point, []).append(float(r.success))
            labels[point] = r.params["grid"]
        nominal_key = ()
        means = {k: float(np.mean(v)) for k, v in per_point.items() if k != nominal_key}
        if not means:
            continue
        worst_key = min(means, key=means.get)
        values = np.array(list(means.values()))
        rates = {k: float(np.mean(v)) for k, v in flags.items() if k != nominal_key}
        rows.append(RobustnessRow(
            agent=agent, checkpoint=checkpoint or None, scenario_id=scenario_id, points=len(means),
            episodes_per_point=len(per_point[worst_key]),
            nominal=float(np.mean(per_point[nominal_key])) if nominal_key in per_point else float("nan"),
            worst=float(values.min()), p10=float(np.percentile(values, 10)), mean=float(values.mean()),
            worst_point=labels[worst_key],
            success_nominal=float(np.mean(flags[nominal_key])) if nominal_key in flags else None,
            success_worst=min(rates.values()) if rates else None,
            success_mean=float(np.mean(list(rates.values()))) if rates else None,
            unstable_points=len(dropped.get(key, set()) - {nominal_key}),
        ))
    return rows
