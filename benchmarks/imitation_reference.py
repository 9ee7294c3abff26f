"""Reference results for imitation: BC, DAgger, GAIL and AIRL from 10 expert episodes.

Per task, an expert is trained once (SB3 PPO, seed 100; InvertedPendulum 50k
steps, InvertedDoublePendulum 200k steps) and 10 of its episodes (reset seeds
0-9) are recorded with the expert sampling from its Gaussian policy: demonstrations
of the deterministic mean action cover so narrow a state distribution that BC
fell to 0.07 of the expert's score on InvertedPendulum (covariate shift), while
the sampled demonstrations score the same 1000 for the expert. Each method then runs with seeds 0-4: ``bc``
(50 epochs), ``dagger`` (the expert checkpoint queried, 20k environment steps in
5 rounds), ``gail`` and ``airl`` (PPO generator, ``--gail-steps`` per task).
Every policy is evaluated deterministically on 20 episodes (reset seeds
10000-10019); the normalized score is (R - R_random) / (R_expert - R_random)
with R the mean episode return (Gymnasium v5 default rewards), R_expert the
expert's and R_random the uniform random policy's on the same episodes. We
report the IQM over seeds with a 95% bootstrap CI and the wall time per run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/imitation_reference.py
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
from agents.imitation import dataset
from testbed.metrics import bootstrap_ci, iqm

TASKS = {  # scenario -> (expert budget, gail/airl budget)
    "mujoco/InvertedPendulum-v5": (50_000, 100_000),
    "mujoco/InvertedDoublePendulum-v5": (200_000, 300_000),
}


def mean_return(agent: object, sid: str) -> float:
    """Mean return over the 20 evaluation episodes."""
    return float(np.mean([r.team_return for r in testbed.evaluate(agent, sid, episodes=20, seed=10_000)]))


def main() -> None:
    """Train the experts, record demonstrations, run every method and print markdown rows."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--methods", nargs="+", default=["bc", "dagger", "gail", "airl"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--runs", type=Path, default=Path("runs/imitation_reference"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/imitation_reference.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for sid in args.tasks:
        expert_steps, adv_steps = TASKS[sid]
        slug = sid.split("/")[1]
        expert_path = args.runs / f"expert-{slug}"
        if not (expert_path / "agent.json").is_file():
            expert = agents.make("ppo", sid, seed=100)
            expert.learn(expert_steps)
            expert.save(expert_path)
        expert = agents.load(expert_path)
        demos = dataset.record(expert, episodes=10, seed=0, deterministic=False,
                               checkpoint=str(expert_path)).save(args.runs / f"demos-{slug}.npz")
        r_expert, r_random = mean_return(expert, sid), mean_return(agents.make("random", sid, seed=0), sid)
        print(f"{sid}: expert {r_expert:.1f}, random {r_random:.1f}, demos mean {dataset.load(demos).mean_return():.1f}", flush=True)
        for method in args.methods:
            scores, walls = [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                if method == "dagger":
                    ag = agents.make("dagger", sid, seed=seed, expert=str(expert_path), rounds=5)
                    ag.learn(20_000)
                else:
                    ag = agents.make(method, sid, seed=seed, dataset=str(demos))
                    ag.learn(0 if method == "bc" else adv_steps)
                walls.append(time.perf_counter() - t0)
                scores.append((mean_return(ag, sid) - r_random) / (r_expert - r_random))
            lo, hi = bootstrap_ci(np.array(scores))
            budget = {"bc": "50 epochs", "dagger": "20k steps"}.get(method, f"{adv_steps // 1000}k steps")
            results[f"{sid}/{method}"] = {"scores": scores, "iqm": iqm(np.array(scores)), "ci": [lo, hi], "budget": budget,
                                          "expert": r_expert, "random": r_random, "wall_s": float(np.mean(walls))}
            print(f"| {sid} | {method} | {budget} | {iqm(np.array(scores)):.2f} [{lo:.2f}, {hi:.2f}] | "
                  f"{' '.join(f'{s:.2f}' for s in scores)} | {np.mean(walls):.0f} s |", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
