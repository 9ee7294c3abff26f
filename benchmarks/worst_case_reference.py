"""Reference result for the worst-case search: does an optimizer find a worst case at least as
bad as a 10 x 10 grid's, with at most a quarter of the grid's episodes?

Policies: the shipped Hopper PPO policies of ``benchmarks/adversarial_reference.py`` (SB3 PPO,
``agents/defaults/ppo.yaml`` settings, ``--steps`` environment steps, seeds 0-4; trained here
when missing, in the same folders). Box: torso mass x0.5..x2.0 and every geom's sliding
friction x0.3..x1.5 (scales of the nominal). Grid: 10 x 10 points with endpoints, plus the
nominal, ``--episodes`` episodes each (101 x 5 = 505 episodes by default). Searches: CMA-ES,
Bayesian optimization (optuna GP), uniform random and CMA-ES without the corner design
(``cmaes-centre``), each 24 points plus the nominal at the
same episodes per point (125 episodes, a quarter of 505 rounded down would be 126). Every
point uses the same episode seeds (30000 + k). Return = Hopper-v5's default reward summed
over the episode (1000-step limit); a point's value is its mean return.

A minimum over noisy points is biased low; to compare fairly, the grid's worst point and each
search's worst point are re-evaluated on 20 fresh episodes (seeds 40000-40019), the same for
all. Reported: per seed, and IQM over seeds with 95% bootstrap CIs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/worst_case_reference.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/worst_case_reference.py --search-episodes 2 --evaluations 61 \
        --out benchmarks/results/worst_case_reference-2x61.json    # the same episodes, more points

``--search-episodes`` spends the search's episodes on more points with fewer episodes each:
each point's value is noisier (and the minimum more biased low), so the comparison that
counts is the confirmed one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import agents
import scenarios
from testbed.grid import evaluate_grid, parse_axis, robustness
from testbed.metrics import iqm_text as stat
from testbed.worst_case import confirm, parse_box, search

TASK = "mujoco/Hopper-v5"
BOX = ["body_mass.torso=0.5:2.0", "geom_friction=0.3:1.5"]
METHODS = ("cmaes", "bayes", "random", "cmaes-centre")
"""``cmaes-centre``: CMA-ES from the box's centre alone, without the corner design (the ablation)."""



def main() -> None:
    """Grid and searches per policy; prints markdown tables and writes JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--evaluations", type=int, default=24)
    p.add_argument("--search-episodes", type=int, default=None, help="Episodes per searched point (default --episodes).")
    p.add_argument("--runs", type=Path, default=Path("runs/adversarial_reference"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/worst_case_reference.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    sc = scenarios.make(TASK)
    grid_axes = [parse_axis(f"{b}:10") for b in BOX]
    box = [parse_box(b) for b in BOX]
    results: dict[str, dict] = {"box": BOX, "episodes": args.episodes, "evaluations": args.evaluations,
                                "search_episodes": args.search_episodes or args.episodes, "seeds": {}}
    for seed in range(args.seeds):
        path = args.runs / f"ppo-{seed}"
        if not (path / "agent.json").is_file():
            ag = agents.make("ppo", TASK, seed=seed)
            ag.learn(args.steps)
            ag.save(path)
        ag = agents.load(path, sc)
        row: dict[str, dict] = {}
        t0 = time.perf_counter()
        recs = evaluate_grid(ag, sc, grid_axes, episodes=args.episodes, seed=30_000)
        g = robustness(recs)[0]
        row["grid"] = {"worst": g.worst, "point": g.worst_point, "nominal": g.nominal, "episodes": len(recs),
                       "wall_s": time.perf_counter() - t0}
        for method in METHODS:
            t0 = time.perf_counter()
            found = search(ag, sc, box, episodes=args.search_episodes or args.episodes, evaluations=args.evaluations, method=method.split("-")[0],
                           seed=30_000, search_seed=seed, corners=not method.endswith("centre"))
            row[method] = {"worst": found.value, "point": found.point, "episodes": len(found.records),
                           "wall_s": time.perf_counter() - t0}
        points = [row["grid"]["point"]] + [row[m]["point"] for m in METHODS]
        confirmed = confirm(ag, sc, box, points, episodes=20, seed=40_000)
        for key, value in zip(("grid", *METHODS), confirmed):
            row[key]["confirmed"] = value
        results["seeds"][seed] = row
        print(f"seed {seed}: " + ", ".join(f"{k} {v['worst']:.0f} (confirmed {v['confirmed']:.0f}, {v['episodes']} ep)"
                                           for k, v in row.items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float))
    rows = results["seeds"]
    spent = (args.search_episodes or args.episodes) * (args.evaluations + 1)
    print(f"\n| seed | grid worst ({101 * args.episodes} ep) | " + " | ".join(f"{m} ({spent} ep)" for m in METHODS) + " |")
    for seed, row in rows.items():
        print(f"| {seed} | " + " | ".join(f"{row[k]['worst']:.0f} -> {row[k]['confirmed']:.0f}" for k in ("grid", *METHODS)) + " |")
    print("| IQM | " + " | ".join(f"{stat([r[k]['worst'] for r in rows.values()])} -> "
                                   f"{stat([r[k]['confirmed'] for r in rows.values()])}" for k in ("grid", *METHODS)) + " |")
    print("\nwall time per policy (s):", {k: round(float(np.mean([r[k]["wall_s"] for r in rows.values()])), 1)
                                         for k in ("grid", *METHODS)})


if __name__ == "__main__":
    main()
