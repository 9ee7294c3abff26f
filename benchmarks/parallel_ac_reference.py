"""Reference results for the parallel actor-critics (A3C, IMPALA on Ray) against SB3's A2C.

Parts (``--parts``, default all):

- ``throughput``: environment steps per second while training, side by side in one run at
  the same total number of scenario copies (``--copies``, default 16): SB3 A2C with 16
  copies, ``impala`` with 1 worker x 16 copies and 2 workers x 8, ``a3c`` with 2 workers x 8.
  Wall time from ``learn()`` start to end (Ray start-up and worker spawn included), and for
  IMPALA also the learner's own rate after start-up (its last ``steps_per_second``).
- ``faults``: ``impala`` (2 workers) on CartPole for ``--fault-steps`` steps, seeds 0-4,
  with and without one rollout worker SIGKILLed every ``--kill-every`` seconds (60): the
  learner's steps per second, the restarts, and the final return.
- ``returns``: ``a3c``, ``impala`` and ``a2c`` on ``classic/CartPole-v1`` and
  ``mujoco/InvertedPendulum-v5`` at ``--budget`` steps each, seeds 0-4.

Every policy is evaluated on 20 deterministic episodes with reset seeds 10,000-10,019.
Statistic: IQM over the 5 seeds of the mean return, 95% percentile-bootstrap CI. Reward:
Gymnasium's (CartPole +1 per step, 500 max; InvertedPendulum +1 per step upright, 1000 max).
One torch thread per process; on this 2-core machine the learner and the workers share the
two cores, so a second worker adds acting capacity only while the learner waits.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/parallel_ac_reference.py --out benchmarks/results/parallel_ac.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import agents
from testbed.harness import evaluate
from testbed.metrics import bootstrap_ci, iqm

SEEDS = range(5)


def _score(agent: Any) -> float:
    return float(np.mean([r.team_return for r in evaluate(agent, agent.scenario, episodes=20, seed=10_000)]))


def _summary(x: list[float]) -> dict[str, Any]:
    a = np.asarray(x, float)
    lo, hi = bootstrap_ci(a)
    return {"iqm": iqm(a), "ci": [lo, hi], "per_seed": [round(v, 1) for v in a]}


def throughput(scenario: str, steps: int, copies: int) -> list[dict[str, Any]]:
    """Steps per second of A2C, IMPALA (1 and 2 workers) and A3C at ``copies`` copies in total."""
    runs = [("a2c", {"n_envs": copies}), ("impala", {"n_workers": 1, "n_envs": copies}),
            ("impala", {"n_workers": 2, "n_envs": copies // 2}), ("a3c", {"n_workers": 2, "n_envs": copies // 2})]
    out = []
    for name, hp in runs:
        ag = agents.make(name, scenario, seed=0, **hp)
        t0 = time.perf_counter()
        ag.learn(steps)
        wall = time.perf_counter() - t0
        row = {"agent": name, **hp, "steps": int(getattr(ag, "steps_trained", steps)), "wall_s": wall,
               "steps_per_s": getattr(ag, "steps_trained", steps) / wall}
        if name == "impala":
            row["learner_steps_per_s"] = ag.history[-1]["steps_per_second"]
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def faults(scenario: str, steps: int, kill_every: float) -> dict[str, Any]:
    """IMPALA with and without a worker killed every ``kill_every`` seconds, 5 seeds each."""
    out: dict[str, Any] = {}
    for label, kill in (("no kills", False), (f"a worker killed every {kill_every:g} s", True)):
        rows = []
        for seed in SEEDS:
            ag = agents.make("impala", scenario, seed=seed, max_worker_restarts=1000)
            last = [time.perf_counter()]
            kills = [0]

            def killer(learner: Any, workers: dict, last: list = last, kills: list = kills) -> None:
                if kill and time.perf_counter() - last[0] >= kill_every:
                    from agents.runtime import import_ray

                    ray = import_ray("the kill benchmark")
                    victim = list(workers.values())[kills[0] % len(workers)]
                    os.kill(ray.get(victim.pid.remote()), signal.SIGKILL)
                    last[0] = time.perf_counter()
                    kills[0] += 1

            ag.on_rollout = killer
            t0 = time.perf_counter()
            ag.learn(steps)
            rows.append({"seed": seed, "wall_s": time.perf_counter() - t0, "learner_steps_per_s": ag.history[-1]["steps_per_second"],
                         "kills": kills[0], "restarts": ag.worker_restarts, "steps": ag.steps_trained, "return": _score(ag)})
            print(label, json.dumps(rows[-1]), flush=True)
        out[label] = {"runs": rows, "return": _summary([r["return"] for r in rows]),
                      "steps_per_s": _summary([r["learner_steps_per_s"] for r in rows])}
    return out


def returns(budget: int, scenarios: list[str], methods: list[str]) -> dict[str, Any]:
    """Final return of each method (a3c, impala, a2c) per scenario, 5 seeds each."""
    out: dict[str, Any] = {}
    for sid in scenarios:
        for name in methods:
            scores, walls = [], []
            for seed in SEEDS:
                ag = agents.make(name, sid, seed=seed)
                t0 = time.perf_counter()
                ag.learn(budget)
                walls.append(time.perf_counter() - t0)
                scores.append(_score(ag))
                print(f"{sid} {name} seed {seed}: {scores[-1]:.1f} ({walls[-1]:.0f} s)", flush=True)
            out[f"{sid} {name}"] = {**_summary(scores), "wall_s_mean": float(np.mean(walls)), "budget": budget}
    return out


def main() -> None:
    """Run the chosen parts, print them and store them as JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="throughput,faults,returns")
    p.add_argument("--throughput-scenario", default="classic/CartPole-v1")
    p.add_argument("--throughput-steps", type=int, default=200_000)
    p.add_argument("--copies", type=int, default=16)
    p.add_argument("--fault-scenario", default="classic/CartPole-v1")
    p.add_argument("--fault-steps", type=int, default=1_000_000)
    p.add_argument("--kill-every", type=float, default=60.0)
    p.add_argument("--budget", type=int, default=200_000)
    p.add_argument("--scenarios", default="classic/CartPole-v1,mujoco/InvertedPendulum-v5")
    p.add_argument("--methods", default="a3c,impala,a2c", help="for --parts returns")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/parallel_ac.json"))
    args = p.parse_args()
    parts = args.parts.split(",")
    result: dict[str, Any] = {"command": f"benchmarks/parallel_ac_reference.py {' '.join(sys.argv[1:])}"}
    if "throughput" in parts:
        result["throughput"] = throughput(args.throughput_scenario, args.throughput_steps, args.copies)
    if "faults" in parts:
        result["faults"] = faults(args.fault_scenario, args.fault_steps, args.kill_every)
    if "returns" in parts:
        result["returns"] = returns(args.budget, args.scenarios.split(","), args.methods.split(","))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "faults"}, indent=1))


if __name__ == "__main__":
    main()
