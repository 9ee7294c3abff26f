"""One experiment job, run where an executor puts it: train, checkpoint, evaluate.

``run_job`` is a plain function of a job dict and the experiment's output folder,
so local worker processes and Ray workers run the same code. It never touches
the results database: it returns the episode records (as dicts), and the driver
alone writes them. Folder layout under ``root``::

    checkpoints/<scenario id>/<label>/seed<seed>-<job id[:8]>/   (agent.json + model files)
    tensorboard/<scenario id>/<label>/seed<seed>-<job id[:8]>/   (training and evaluation scalars)

A checkpoint already complete there (a previous run finished training but was
killed before its episodes were stored) is loaded instead of trained again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def job_folder(root: str | Path, kind: str, job: dict[str, Any]) -> Path:
    """``root/kind/<scenario id>/<label>/seed<seed>-<id8>``."""
    return Path(root) / kind / job["scenario"]["id"] / job["label"] / f"seed{job['seed']}-{job['id'][:8]}"


def run_job(job: dict[str, Any], root: str) -> dict[str, Any]:
    """Train (or load) the job's agent, evaluate it as the job says; returns records and timings."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import agents
    import scenarios
    from testbed.scalar_log import ScalarLog

    t0 = time.perf_counter()
    sc = scenarios.make(job["scenario"])
    ckpt = job_folder(root, "checkpoints", job)
    writer = ScalarLog(job_folder(root, "tensorboard", job), job["description"],
                       {"agent": job["agent"], "scenario": job["scenario"]["id"], "seed": job["seed"], **job["hparams"]},
                       job.get("wandb"))
    train_start = time.perf_counter()
    if (ckpt / "agent.json").is_file():
        agent = agents.load(ckpt, sc)
    else:
        agent = agents.make(job["agent"], sc, seed=job["seed"], **job["hparams"])
        steps = int(job["steps"]) if agent.capabilities.needs_training else 0
        start = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if done:
                writer.add_scalar("train/steps_per_second", done / max(1e-9, time.perf_counter() - start), done)

        agent.learn(steps, progress=progress)
        for row in getattr(agent, "history", []) or []:
            for key, value in row.items():
                if key != "steps" and isinstance(value, (int, float)):
                    writer.add_scalar(f"train/{key}", value, int(row.get("steps", 0)))
        agent.save(ckpt)
        history = [row for row in getattr(agent, "history", []) or [] if isinstance(row, dict)]
        if history:
            (ckpt / "history.json").write_text(json.dumps(history, default=float))
    eval_start = time.perf_counter()
    ev = job["evaluation"]
    label = str(ckpt)
    skipped: list[str] = []
    records = _evaluate(agent, sc, job, job, ev, label, f"{job['id']}-nominal", skipped)
    for k, target in enumerate(job.get("evaluate_on", [])):
        records += _evaluate(agent, scenarios.make(target["scenario"]), job, target, ev, label, f"{job['id']}-on{k}", skipped)
    for r in records:
        r.label, r.trained_on, r.train_seed = job["label"], job["scenario"]["id"], int(job["seed"])
    eval_s = time.perf_counter() - eval_start
    nominal = [r.team_return for r in records if r.run_id == f"{job['id']}-nominal"]
    writer.add_scalar("eval/mean_team_return", sum(nominal) / len(nominal), int(getattr(agent, "steps_trained", 0)))
    writer.close()
    return {"id": job["id"], "checkpoint": label, "records": [r.model_dump() for r in records],
            "wall_time_s": time.perf_counter() - t0, "train_time_s": eval_start - train_start, "eval_time_s": eval_s,
            "skipped": skipped}



def _evaluate(agent: Any, sc: Any, job: dict[str, Any], what: dict[str, Any], ev: dict[str, Any], label: str,
              run_id: str, skipped: list[str]) -> list[Any]:
    """Nominal episodes of ``sc``, then ``what``'s grids, worst-case searches and attacks on it."""
    from scenarios import UserError
    from testbed.attack_curve import attack_curve
    from testbed.grid import evaluate_grid, parse_axis
    from testbed.harness import evaluate

    records = evaluate(agent, sc, episodes=ev["episodes"], seed=ev["seed"], checkpoint=label, run_id=run_id)
    for grid in what.get("grids", []):
        records += evaluate_grid(agent, sc, [parse_axis(a) for a in grid], episodes=ev["episodes"], seed=ev["seed"],
                                 checkpoint=label)
    for entry in what.get("worst_case", []):
        from testbed.worst_case import parse_box, search

        records += search(agent, sc, [parse_box(a) for a in entry["box"]], episodes=ev["episodes"], seed=ev["seed"],
                          evaluations=entry["evaluations"], method=entry["method"], search_seed=job["seed"],
                          checkpoint=label).records
    where = job["description"] if sc.id == job["scenario"]["id"] else f"{job['description']}, evaluated on {sc.id}"
    for attack in what.get("attacks", []):
        why: dict[str, str] = {}
        try:
            records += attack_curve(agent, sc, attack["kind"], attack["eps"], episodes=ev["episodes"], seed=ev["seed"],
                                    steps=attack["steps"], checkpoint=label, train_steps=attack.get("train_steps"),
                                    skipped=why)
        except UserError as exc:  # e.g. a gradient attack on an agent without a differentiable policy
            skipped.append(f"{attack['kind']} attack on {where}: {exc}")
        skipped += [f"{kind} attack on {where}: {reason}" for kind, reason in why.items()]
    return records
