"""Executors: where experiment jobs run. Results always come back to the driver.

- ``local`` (default): ``workers`` processes on this machine (``spawn``, so every
  worker starts clean of the driver's torch/MuJoCo state);
- ``ray``: tasks on a Ray cluster (``address`` of a running cluster, or a local
  Ray instance when omitted). Workers on other machines never open the SQLite
  file; their records travel back with the task's result.

Both yield ``(job, result)`` pairs as jobs finish, in completion order; a job
that raised yields ``{"error": "..."}`` as its result and the others go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from agents.runtime import die_with_parent, start_ray
from scenarios import UserError
from testbed.jobs import run_job

EXECUTORS = ("local", "ray")


def run_local(jobs: list[dict[str, Any]], root: str, workers: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Run jobs in a pool of ``workers`` local processes, which end with the driver."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=die_with_parent,
                               initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_job, job, root): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                try:
                    yield futures[f], f.result()
                except Exception as exc:  # noqa: BLE001 - reported by the driver, other jobs continue
                    yield futures[f], {"error": f"{type(exc).__name__}: {exc}"}
    except BaseException:
        # Ctrl-C (or the caller stopping early): end the workers now instead of waiting for their jobs;
        # a rerun redoes the unfinished jobs. (A driver killed outright takes them along: die_with_parent.)
        for child in mp.active_children():
            child.kill()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def run_ray(jobs: list[dict[str, Any]], root: str, workers: int, address: str | None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Run jobs as Ray tasks (one CPU each) on the cluster at ``address`` or a local one."""
    ray, started_here = start_ray(workers, address)
    remote = ray.remote(num_cpus=1)(run_job)
    refs = {remote.remote(job, root): job for job in jobs}
    try:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield refs[ref], ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - reported by the driver, other jobs continue
                    yield refs[ref], {"error": f"{type(exc).__name__}: {str(exc).splitlines()[-1] if str(exc) else ''}"}
    finally:
        if started_here:
            ray.shutdown()


def execute(jobs: list[dict[str, Any]], root: str, executor: str = "local", workers: int = 1,
            address: str | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Dispatch to the named executor."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor '{executor}' (valid: {', '.join(EXECUTORS)})")
    if workers < 1:
        raise UserError(f"workers must be at least 1 (got {workers})")
    if executor == "local":
        return run_local(jobs, root, workers)
    return run_ray(jobs, root, workers, address)
