"""Returns of ``fast_ppo`` vs the SB3-backed ``ppo`` at equal budgets and hyperparameters: train
``--seeds`` seeds of one learner on one task, evaluate each policy deterministically on 10 episodes
(reset seeds 1000-1009), write per-seed mean returns as JSON. Run once per learner (one process
per core), then ``--compare A.json B.json`` prints IQM [95% bootstrap CI over seeds] of each.
The JSON is rewritten after every seed (a stopped run keeps its finished seeds); ``--first-seed``
continues a run in another process or session (join the files' ``returns`` by ``seeds``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_returns.py --learner ppo --steps 100000 --out results/ppo.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_returns.py --learner fast_ppo --steps 100000 --out results/fast.json
    .venv/bin/python benchmarks/fast_ppo_returns.py --compare results/ppo.json results/fast.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learner", default="fast_ppo")
    parser.add_argument("--task", default="mujoco/Hopper-v5")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--compare", nargs=2, type=Path, default=None)
    args = parser.parse_args()
    if args.compare:
        from testbed.metrics import iqm_text

        for path in args.compare:
            data = json.loads(path.read_text())
            print(f"{data['learner']:9s} {data['task']} {data['steps']} steps: IQM {iqm_text(data['returns'], 1)} "
                  f"(per seed {', '.join(f'{x:.0f}' for x in data['returns'])}); train {np.mean(data['seconds']):.1f} s/seed")
        return
    import agents
    import testbed

    out = args.out or Path(f"benchmarks/results/{args.learner}-{args.task.replace('/', '_')}-{args.steps}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    returns: list[float] = []
    seconds: list[float] = []
    seeds: list[int] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        agent = agents.make(args.learner, args.task, seed=seed)
        t0 = time.perf_counter()
        agent.learn(args.steps)
        seconds.append(time.perf_counter() - t0)
        returns.append(float(np.mean([r.team_return for r in testbed.evaluate(agent, episodes=10, seed=1000)])))
        seeds.append(seed)
        print(f"{args.learner} seed {seed}: {returns[-1]:.1f} ({seconds[-1]:.1f} s)", flush=True)
        out.write_text(json.dumps({"learner": args.learner, "task": args.task, "steps": args.steps, "seeds": seeds,
                                   "returns": returns, "seconds": seconds}))


if __name__ == "__main__":
    main()
