"""Worst-case search: a policy's lowest mean return over a box of physical parameters,
found by an optimizer rather than wherever a grid happens to put a point (the move
RRLS's authors made from grids to search with IWOCS).

A box axis is written like a grid axis without the point count,
``FIELD[.NAME][[K]][@OP]=LOW:HIGH`` (``body_mass.torso=0.5:2``, ``geom_friction=0.3:1.5``).
The search minimizes the mean team return over ``episodes`` episodes per point; every
point uses the same episode seeds (common random numbers), so points differ only in
physics and, for a deterministic policy, the objective is a deterministic function of
the point. Every evaluated point is stored as a grid point is (``params["grid"]``, one
``run_id`` for the search, the nominal scenario included), plus ``params["search"]``
(the method) and ``params["generation"]``, so ``testbed results`` and the robustness
tables read a search like a grid; its worst point is the worst case found.

Methods (all over the box mapped to the unit cube):

- ``cmaes`` (default; the ``cma`` package): an initial design of the box's centre and,
  for up to 4 parameters, its 2^d corners (worst cases of physical parameters sit
  at the box's faces more often than not, and a grid with endpoints has them), then
  CMA-ES started at the worst design point (step size 0.3, population 4 + 3 ln d,
  bounds by ``cma``'s boundary transform); each generation is one batch;
- ``bayes`` (optuna's Gaussian-process sampler):
  Bayesian optimization, the same initial design enqueued, one point at a time;
- ``random``: uniform points, the baseline a search has to beat.

``evaluations`` counts box points (default 24: with the nominal, a quarter of a 10 x 10
grid's 101 points). The minimum over evaluated points is, like a grid's, biased low
by the noise of ``episodes`` episodes; re-evaluating the worst point on fresh seeds
(``confirm``) gives an unbiased value.

A point where any episode's physics went unstable (MuJoCo reset the simulation mid-episode,
``scenarios.instability``: a gravity of 1e30 gives Hopper a "return" of -6.8e33) is stored and
counted (``unstable_points``) but is not a worst-case candidate: its return is not a
measurement, and the optimizer reads it as the nominal's value so it does not chase the blow-up.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios import Scenario, UserError
from testbed.grid import GridAxis, evaluate_grid, parse_axis
from testbed.records import EpisodeRecord
from testbed.store import ResultsStore

METHODS = ("cmaes", "bayes", "random")
"""The search methods, cheapest to explain first: CMA-ES, Bayesian optimization, uniform random."""


def parse_box(text: str) -> GridAxis:
    """Parse ``FIELD[.NAME][[K]][@OP]=LOW:HIGH`` into an axis whose ``values`` are ``(LOW, HIGH)``.

    >>> parse_box("body_mass.torso=0.5:2").values
    (0.5, 2.0)
    """
    parts = text.strip().rsplit("=", 1)
    if len(parts) != 2 or parts[1].count(":") != 1:
        raise UserError(f"bad --worst-case '{text}': expected FIELD[.NAME][@scale|add|set]=LOW:HIGH, "
                        "e.g. body_mass.torso=0.5:2")
    axis = parse_axis(f"{text.strip()}:2", flag="--worst-case", shown=text)
    low, high = axis.values
    if not high > low:
        raise UserError(f"bad --worst-case '{text}': HIGH must be greater than LOW")
    return axis


@dataclass
class WorstCase:
    """What a search found: every record, the worst point and its mean return."""

    records: list[EpisodeRecord]
    point: dict[str, float]
    value: float
    nominal: float
    evaluations: int
    method: str
    unstable_points: int = 0


def _point_means(records: list[EpisodeRecord], points: list[dict[str, float]]) -> list[float]:
    """The mean team return at each point, from its records."""
    return [float(np.mean([r.team_return for r in records if r.params["grid"] == p])) for p in points]


def _unstable(records: list[EpisodeRecord], points: list[dict[str, float]]) -> list[bool]:
    """Whether any episode at each point went physically unstable (``scenarios.instability``)."""
    return [any(r.unstable for r in records if r.params["grid"] == p) for p in points]


def _design(d: int) -> list[np.ndarray]:
    """The centre of the unit cube and, for d <= 4, its corners."""
    centre = [np.full(d, 0.5)]
    return centre + ([np.array(c, float) for c in itertools.product((0.0, 1.0), repeat=d)] if d <= 4 else [])


def search(agent: Any, scenario: Scenario, axes: list[GridAxis], episodes: int = 10, evaluations: int = 24,
           method: str = "cmaes", seed: int = 0, search_seed: int = 0, deterministic: bool = True,
           checkpoint: str | None = None, store: ResultsStore | None = None,
           progress: Callable[[int, int], None] | None = None, backend: str = "auto", corners: bool = True) -> WorstCase:
    """Search the box ``axes`` (each axis's ``values`` = (low, high)) for ``agent``'s worst mean return.

    ``seed`` is the first episode reset seed (shared by every point), ``search_seed`` the
    optimizer's; ``progress(done, total)`` counts episodes; ``corners=False`` starts cmaes and
    bayes from the box's centre alone (the design's ablation).

    >>> import agents, scenarios
    >>> sc = scenarios.make("mujoco/InvertedPendulum-v5")
    >>> found = search(agents.make("random", sc, seed=0), sc, [parse_box("body_mass.pole=0.5:2")], episodes=2,
    ...                evaluations=4, method="random")
    >>> found.evaluations, sorted(found.point)
    (4, ['body_mass.pole'])
    """
    if method not in METHODS:
        raise UserError(f"unknown worst-case search method '{method}' (valid: {', '.join(METHODS)})")
    if evaluations < 1:
        raise UserError(f"worst-case evaluations must be at least 1 (got {evaluations})")
    if not axes:
        raise UserError("a worst-case search needs at least one PARAM=LOW:HIGH axis")
    labels = [a.label for a in axes]
    if len(set(labels)) != len(labels):
        raise UserError(f"worst-case axes repeat a parameter: {', '.join(labels)}")
    low = np.array([a.values[0] for a in axes])
    high = np.array([a.values[1] for a in axes])
    run_id = uuid.uuid4().hex[:12]
    total = episodes * (evaluations + 1)
    records: list[EpisodeRecord] = []
    means: list[tuple[float, dict[str, float]]] = []
    unstable: list[dict[str, float]] = []
    baseline = 0.0  # the nominal's mean return, set once it is measured (run reads it when called)

    def run(unit_points: list[np.ndarray], generation: int, nominal: bool = False) -> list[float]:
        # low (1 - u) + high u: exact at both ends (low + u (high - low) gave 0 for u = 1 on a box of -1e30:-9)
        points = [{lab: float(v) for lab, v in zip(labels, low * (1 - np.clip(u, 0, 1)) + high * np.clip(u, 0, 1))}
                  for u in unit_points]
        done = len(records)
        recs = evaluate_grid(agent, scenario, axes, episodes=episodes, seed=seed, deterministic=deterministic,
                             checkpoint=checkpoint, store=store, backend=backend, points=points, nominal=nominal,
                             run_id=run_id, extra_params={"search": method, "generation": generation},
                             progress=(lambda i, _n: progress(done + i, total)) if progress else None)
        records.extend(recs)
        values, broken = _point_means(recs, points), _unstable(recs, points)
        means.extend((v, p) for v, p, b in zip(values, points, broken) if not b)
        unstable.extend(p for p, b in zip(points, broken) if b)
        # an unstable point's return is not a measurement: the optimizer reads it as the nominal's, not as a worst case
        return [baseline if b else v for v, b in zip(values, broken)]

    run([], 0, nominal=True)
    if any(r.unstable for r in records):
        raise UserError(f"{scenario.id}'s nominal physics went unstable (MuJoCo reset the simulation mid-episode: "
                        "scenarios.instability), so the search has no baseline: fix the scenario's own layers first")
    (baseline,) = _point_means(records, [{}])
    d = len(axes)
    design = (_design(d) if corners else _design(d)[:1])[:evaluations]
    if method == "random":
        rng = np.random.default_rng(search_seed)
        run([rng.random(d) for _ in range(evaluations)], 0)
    elif method == "cmaes":
        values = run(design, 0)
        _cmaes(run, design[int(np.argmin(values))], evaluations - len(design), d, search_seed)
    else:
        _bayes(run, design, evaluations, d, labels, search_seed)
    if not means:
        raise UserError(f"every one of the {len(unstable)} points searched went physically unstable (MuJoCo reset the "
                        "simulation: scenarios.instability), so none is a measured worst case: narrow the box")
    value, point = min(means, key=lambda m: m[0])
    return WorstCase(records=records, point=point, value=value, nominal=baseline,
                     evaluations=len(means) + len(unstable), method=method, unstable_points=len(unstable))


def _cmaes(run: Callable[..., list[float]], start: np.ndarray, budget: int, d: int, seed: int) -> None:
    """CMA-ES generations in the unit cube until ``budget`` points are spent (a last partial generation is not told)."""
    if budget <= 0:
        return
    import cma

    popsize = max(4, 4 + int(3 * math.log(d)))
    es = cma.CMAEvolutionStrategy(list(start), 0.3, {"bounds": [0, 1], "popsize": popsize, "seed": seed % (2**32 - 1) + 1,
                                                     "verbose": -9})
    generation = 1
    while budget > 0 and not es.stop():
        xs = es.ask()
        batch = [np.asarray(x, float) for x in xs[:budget]]
        values = run(batch, generation)
        budget -= len(batch)
        if len(batch) == len(xs):
            es.tell(xs, values)
        generation += 1


def _bayes(run: Callable[..., list[float]], design: list[np.ndarray], budget: int, d: int, labels: list[str],
           seed: int) -> None:
    """Gaussian-process Bayesian optimization (optuna), the design points enqueued first."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # not a warning per suggestion (e.g. greenlet's absence)
    names = [f"x{i}" for i in range(d)]
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.GPSampler(seed=seed))
    for u in design:
        study.enqueue_trial(dict(zip(names, map(float, u))))
    space = {n: optuna.distributions.FloatDistribution(0.0, 1.0) for n in names}
    for k in range(budget):
        trial = study.ask(space)
        u = np.array([trial.params[n] for n in names])
        (value,) = run([u], k)
        study.tell(trial, value)


def confirm(agent: Any, scenario: Scenario, axes: list[GridAxis], points: list[dict[str, float]], episodes: int,
            seed: int, deterministic: bool = True) -> list[float]:
    """Mean returns at ``points`` on episode seeds of their own (an unbiased value for a found worst case)."""
    recs = evaluate_grid(agent, scenario, axes, episodes=episodes, seed=seed, deterministic=deterministic,
                         points=points, nominal=False)
    return _point_means(recs, points)
