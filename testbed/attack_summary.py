"""The worst of several observation attacks per budget, from episode records (no torch: the
report and the tables read it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from testbed.records import EpisodeRecord


def worst_of_attacks(records: Sequence[EpisodeRecord]) -> dict[float, tuple[float, str]]:
    """Per budget: the lowest mean team return over the attacks in ``records`` and which attack gave it.

    >>> from testbed.records import EpisodeRecord
    >>> def rec(kind, eps, ret):
    ...     return EpisodeRecord(run_id="r", scenario_id="s", scenario={}, params={"attack": kind, "eps": eps}, agent="a",
    ...                          seed=0, episode=0, returns={"a": ret}, team_return=ret, aggregation="sum", length=1,
    ...                          terminated=True, truncated=False, wall_time_s=0.0, deterministic=True, created_at="")
    >>> worst_of_attacks([rec("pgd", 0.1, 5.0), rec("mad", 0.1, 3.0), rec("pgd", 0.2, 1.0), rec("mad", 0.2, 2.0)])
    {0.1: (3.0, 'mad'), 0.2: (1.0, 'pgd')}
    """
    by: dict[float, dict[str, list[float]]] = {}
    for r in records:
        if "attack" in r.params:
            by.setdefault(float(r.params["eps"]), {}).setdefault(r.params["attack"], []).append(r.team_return)
    out = {}
    for eps in sorted(by):
        name = min(by[eps], key=lambda n: float(np.mean(by[eps][n])))
        out[eps] = (float(np.mean(by[eps][name])), name)
    return out
