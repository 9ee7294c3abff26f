"""Return vs training budget for MAPPO and MADDPG on continuous-control multi-agent tasks.

Each method trains with seeds 0..S-1; at every budget in ``--budgets``
(cumulative environment steps of the whole team) the policy is evaluated
deterministically on 10 episodes (reset seeds 10000-10009). The team return is
the sum over agents of the source's per-agent rewards: for
``sisl/multiwalker-v9`` PettingZoo's default (forward progress of the package,
-100 to every walker when one falls or the package drops, 500-step limit); for
``mamujoco/HalfCheetah-2x3-v1`` every agent receives the shared HalfCheetah-v5
reward, so the sum is 2x the single-agent return (1000-step limit). Printed:
IQM over seeds with a 95% bootstrap CI at each budget, and wall time.

    .venv/bin/python benchmarks/marl_budget.py --scenario sisl/multiwalker-v9 --budgets 25000 50000 100000 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import agents
import testbed
from testbed.metrics import bootstrap_ci, iqm


def main() -> None:
    """Train, evaluate at each budget, print markdown rows, store JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="sisl/multiwalker-v9")
    p.add_argument("--methods", nargs="+", default=["mappo", "maddpg"])
    p.add_argument("--budgets", nargs="+", type=int, default=[25_000, 50_000, 100_000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/marl_budget.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    rand = testbed.evaluate(agents.make("random", args.scenario, seed=0), episodes=10, seed=10_000)
    print(f"{args.scenario}: random team return {np.mean([r.team_return for r in rand]):.1f}", flush=True)
    for method in args.methods:
        table = {b: [] for b in args.budgets}
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            ag = agents.make(method, args.scenario, seed=seed)
            done = 0
            for b in args.budgets:
                ag.learn(b - done)
                done = b
                recs = testbed.evaluate(ag, episodes=10, seed=10_000)
                table[b].append(float(np.mean([r.team_return for r in recs])))
        wall = (time.perf_counter() - t0) / args.seeds
        for b in args.budgets:
            lo, hi = bootstrap_ci(np.array(table[b]))
            print(f"| {args.scenario} | {method} | {b // 1000}k | {iqm(np.array(table[b])):.1f} [{lo:.1f}, {hi:.1f}] | "
                  f"{' '.join(f'{x:.1f}' for x in table[b])} |", flush=True)
        print(f"{method}: {wall:.0f} s per seed (all budgets)", flush=True)
        results[f"{args.scenario}/{method}"] = {"budgets": args.budgets, "returns": table, "wall_s_per_seed": wall}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
