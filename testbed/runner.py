"""The experiment driver: expand a spec, skip finished jobs, run the rest, store results.

Only the driver writes the results database. Each finished job's episodes and
its "done" mark go in one transaction (``ResultsStore.complete_job``), so a run
killed at any moment and started again skips exactly the stored jobs and
neither loses nor duplicates episodes; jobs that were running are redone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.executors import execute
from testbed.experiment_spec import ExperimentSpec, expand
from testbed.records import EpisodeRecord
from testbed.store import ResultsStore


def run_experiment(spec: ExperimentSpec, db: str | Path, out_dir: str | Path, executor: str = "local", workers: int = 1,
                   address: str | None = None, on_job: Callable[[dict[str, Any], int, int], None] | None = None,
                   wandb: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every unfinished job of ``spec``; returns counts of jobs (total, skipped, run), stored episodes,
    failed jobs (not stored: a rerun retries them), notes (attacks that did not apply) and the seconds the
    jobs run spent training (``train_s``) and evaluating (``eval_s``), summed over jobs."""
    store = ResultsStore(db)
    jobs = expand(spec)
    done = store.done_jobs()
    todo = [j for j in jobs if j["id"] not in done]
    if wandb is not None:  # logging settings travel with the jobs but are not part of their identity
        todo = [{**j, "wandb": wandb} for j in todo]
    stored = 0
    times = {"train_s": 0.0, "eval_s": 0.0}
    failures: list[str] = []
    notes: list[str] = []
    root = str(Path(out_dir).resolve())
    for k, (job, result) in enumerate(execute(todo, root, executor, workers, address), start=1):
        if "error" in result:
            failures.append(f"{job['description']}: {result['error']}")
        else:
            records = [EpisodeRecord.model_validate(r) for r in result["records"]]
            stored += store.complete_job(job["id"], spec.name, job["description"], result["checkpoint"], records,
                                         result["wall_time_s"], dt.datetime.now(dt.timezone.utc).isoformat())
            notes += result.get("skipped", [])
            times["train_s"] += float(result.get("train_time_s", 0.0))
            times["eval_s"] += float(result.get("eval_time_s", 0.0))
        if on_job:
            on_job(job, k, len(todo))
    store.close()
    return {"jobs": len(jobs), "skipped": len(jobs) - len(todo), "ran": len(todo), "episodes": stored,
            "failures": failures, "notes": notes, "job_ids": [j["id"] for j in jobs], **times}
