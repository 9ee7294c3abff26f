"""Reference results for the multi-agent learners on the cooperative MPE tasks.

For each task: the random policy and a scripted heuristic (``agents.marl.heuristics``)
define the normalized score ``(R - R_random) / (R_heuristic - R_random)``. Each method
trains with seeds 0-4 at the stated budget (environment steps, i.e. steps of the
whole team), then is evaluated deterministically on 100 episodes (reset seeds
10000-10099). R is the team return: mpe2's default per-agent rewards summed over
agents and over the 25 steps of an episode, averaged over the 100 episodes. We
report the IQM over runs of the normalized score with a 95% percentile-bootstrap
CI, the per-run scores and the mean wall time per run (training + evaluation).

    .venv/bin/python benchmarks/marl_reference.py --tasks spread --steps 60000 --seeds 5
    .venv/bin/python benchmarks/marl_reference.py --tasks speaker_listener reference --methods mappo qmix
    .venv/bin/python benchmarks/marl_reference.py --methods ippo --set value_norm=true --label vn

``--set`` overrides hyperparameters of every method run (as ``testbed train --set``);
``--label`` names the variant in the JSON keys and the printed rows.
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
from agents.hyperparams import parse_assignments
from testbed.metrics import bootstrap_ci, iqm

TASKS = {
    "spread": ("mpe/simple_spread-v3", "spread_heuristic"),
    "speaker_listener": ("mpe/simple_speaker_listener-v4", "speaker_listener_heuristic"),
    "reference": ("mpe/simple_reference-v3", "reference_heuristic"),
}
METHODS = ["mappo", "ippo", "qmix", "vdn", "maddpg", "iql"]
EPISODES, EVAL_SEED = 100, 10_000


def team_return(agent: object, scenario: str) -> float:
    """Mean team return (sum over agents) over the evaluation episodes."""
    recs = testbed.evaluate(agent, scenario, episodes=EPISODES, seed=EVAL_SEED, num_envs=20)
    return float(np.mean([r.team_return for r in recs]))


def main() -> None:
    """Run the requested tasks x methods x seeds and print one markdown row per pair."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--methods", nargs="+", default=METHODS)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=60_000)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="hyperparameter overrides")
    p.add_argument("--label", default="", help="variant name for the JSON keys and rows")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/marl_reference.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    overrides = parse_assignments(args.set)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for task in args.tasks:
        sid, heuristic = TASKS[task]
        r_rand = team_return(agents.make("random", sid, seed=0), sid)
        r_heur = team_return(agents.make(heuristic, sid), sid)
        print(f"{task}: random {r_rand:.2f}, heuristic {r_heur:.2f}", flush=True)
        for method in args.methods:
            scores, walls, raw = [], [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                ag = agents.make(method, sid, seed=seed, **overrides)
                ag.learn(args.steps)
                r = team_return(ag, sid)
                walls.append(time.perf_counter() - t0)
                raw.append(r)
                scores.append((r - r_rand) / (r_heur - r_rand))
            lo, hi = bootstrap_ci(np.array(scores))
            name = f"{method}[{args.label}]" if args.label else method
            row = {"scenario": sid, "method": method, "label": args.label, "overrides": overrides, "steps": args.steps, "seeds": args.seeds, "iqm": iqm(np.array(scores)),
                   "ci": [lo, hi], "scores": scores, "returns": raw, "random": r_rand, "heuristic": r_heur,
                   "wall_s_per_run": float(np.mean(walls))}
            results[f"{task}/{name}/{args.steps}"] = row
            print(f"| {sid} | {name} | {args.steps // 1000}k | {row['iqm']:.2f} [{lo:.2f}, {hi:.2f}] | "
                  f"{' '.join(f'{s:.2f}' for s in scores)} | {np.mean(raw):.1f} | {row['wall_s_per_run']:.0f} s |", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
