"""Export multi-agent results in marl-eval's JSON layout (InstaDeep's marl-eval).

Layout: ``{env: {task: {algorithm: {run: {"step_K": {"step_count": S, "return": [..]},
"absolute_metrics": {"return": [..]}}}}}}``, where ``env`` is the scenario family
(``mpe``), ``task`` the rest of the id, ``algorithm`` the agent name, ``run`` the
checkpoint (or run id), and the returns are per-episode team returns with the
aggregation stated in the file's top-level ``"aggregation"`` note. With several
evaluations of one run, each becomes a ``step_K`` in time order, with the
training steps its checkpoint recorded (0 when unknown).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from testbed.records import EpisodeRecord


def _steps_of(checkpoint: str | None) -> int:
    if not checkpoint:
        return 0
    meta = Path(checkpoint) / "agent.json"
    try:
        return int(json.loads(meta.read_text()).get("steps", 0))
    except (OSError, ValueError):
        return 0


def to_marl_eval(records: list[EpisodeRecord]) -> dict[str, Any]:
    """marl-eval's nested dictionary for a list of episode records."""
    runs: dict[tuple[str, str, str, str], dict[str, list[EpisodeRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        env, _, task = r.scenario_id.partition("/")
        runs[(env, task, r.agent, r.checkpoint or r.run_id)][r.run_id].append(r)
    out: dict[str, Any] = {}
    aggregations = sorted({r.aggregation for r in records})
    for (env, task, algo, run), evaluations in runs.items():
        entry: dict[str, Any] = {}
        ordered = sorted(evaluations.values(), key=lambda recs: min(x.created_at for x in recs))
        for k, recs in enumerate(ordered):
            entry[f"step_{k}"] = {"step_count": _steps_of(recs[0].checkpoint), "return": [x.team_return for x in recs]}
        entry["absolute_metrics"] = {"return": [x.team_return for x in ordered[-1]]}
        out.setdefault(env, {}).setdefault(task, {}).setdefault(algo, {})[run] = entry
    return {**out, "_note": f"returns are team returns ({', '.join(aggregations)} over agents) per evaluation episode"}


def write_marl_eval(records: list[EpisodeRecord], path: str | Path) -> Path:
    """Write the export to ``path`` (JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_marl_eval(records), indent=2))
    return path
