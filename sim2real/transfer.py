"""Transfer evaluation: the same policy on its source scenario and on a target, with the gap.

Both are evaluated with the harness on the same episode seeds; the report gives
each mean return with a 95% percentile-bootstrap CI and the gap
``source - target`` with a CI from resampling both sides independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios import Scenario
from scenarios import make as make_scenario
from testbed.harness import evaluate
from testbed.metrics import bootstrap_ci


@dataclass(frozen=True)
class TransferReport:
    """Source and target returns and the transfer gap, each with a 95% CI."""

    source_id: str
    target_id: str
    source: float
    source_ci: tuple[float, float]
    target: float
    target_ci: tuple[float, float]
    gap: float
    gap_ci: tuple[float, float]


def transfer_gap(agent: Any, target: Scenario | str | dict, source: Scenario | str | dict | None = None, episodes: int = 20,
                 seed: int = 0, reps: int = 2000) -> TransferReport:
    """Evaluate ``agent`` on ``source`` (default: its own scenario) and ``target``; report the gap."""
    src = agent.scenario if source is None else (source if isinstance(source, Scenario) else make_scenario(source))
    tgt = target if isinstance(target, Scenario) else make_scenario(target)
    a = np.array([r.team_return for r in evaluate(agent, src, episodes=episodes, seed=seed)])
    b = np.array([r.team_return for r in evaluate(agent, tgt, episodes=episodes, seed=seed)])
    rng = np.random.default_rng(seed)
    diffs = np.array([a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))].mean() for _ in range(reps)])
    mean_ci = lambda x: bootstrap_ci(x, np.mean, reps=reps, seed=seed)  # noqa: E731
    return TransferReport(
        source_id=src.id, target_id=tgt.id, source=float(a.mean()), source_ci=mean_ci(a), target=float(b.mean()),
        target_ci=mean_ci(b), gap=float(a.mean() - b.mean()),
        gap_ci=(float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))),
    )
