"""Reference results for the single-agent methods, 5 seeds each.

For each experiment: train with seeds 0-4 at the stated budget (planners and
value iteration need none), evaluate each run deterministically on 10 episodes
(reset seeds 1000-1009), and report the IQM over runs of the per-run mean
return with a 95% percentile-bootstrap CI, the per-run means and the wall time
per run. Compare with rl-baselines3-zoo / CleanRL in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/reference_results.py --only ppo_cartpole dqn_cartpole ...
    .venv/bin/python benchmarks/reference_results.py --list
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import agents
import scenarios
import testbed
from testbed.metrics import bootstrap_ci, iqm

# name -> (agent, scenario, budget, overrides, episodes, target)
EXPERIMENTS = {
    "ppo_cartpole": ("ppo", "classic/CartPole-v1", 100_000, {}, 10, "500 (rl-zoo, 100k)"),
    "dqn_cartpole": ("dqn", "classic/CartPole-v1", 50_000, {}, 10, ">= 475 (rl-zoo 500 at 50k)"),
    "double_dqn_cartpole": ("double_dqn", "classic/CartPole-v1", 50_000, {}, 10, ">= 475"),
    "sac_pendulum": ("sac", "classic/Pendulum-v1", 20_000, {}, 10, ">= -200 (rl-zoo -157 at 20k)"),
    "td3_pendulum": ("td3", "classic/Pendulum-v1", 20_000, {}, 10, ">= -200 (rl-zoo -152 at 20k)"),
    "ppo_invertedpendulum": ("ppo", "mujoco/InvertedPendulum-v5", 50_000, {}, 10, "1000 (CleanRL 963 at 1M)"),
    "sac_invertedpendulum": ("sac", "mujoco/InvertedPendulum-v5", 20_000, {}, 10, "1000 (CleanRL 909 at 1M)"),
    "value_iteration_frozenlake": ("value_iteration", "toytext/FrozenLake-v1", 0, {}, 100, "optimal values to 1e-6"),
    "mppi_invertedpendulum": ("mppi", "mujoco/InvertedPendulum-v5", 0, {}, 2, "1000 with no learning"),
    "mppi_halfcheetah": ("mppi", "mujoco/HalfCheetah-v5", 0, {}, 1, "report the return"),
}


def run(name: str, seeds: list[int]) -> dict:
    algo, sc_id, budget, hp, episodes, target = EXPERIMENTS[name]
    sc = scenarios.make(sc_id)
    per_run, walls, extra = [], [], {}
    for seed in seeds:
        t0 = time.perf_counter()
        ag = agents.make(algo, sc, seed=seed, **hp)
        ag.learn(budget)
        recs = testbed.evaluate(ag, sc, episodes=episodes, seed=1000, num_envs=min(episodes, 8))
        walls.append(time.perf_counter() - t0)
        per_run.append(float(np.mean([r.team_return for r in recs])))
        if algo == "value_iteration":
            exact = agents.make("policy_iteration", sc).evaluate_policy(ag.q.argmax(axis=1))
            extra["max |V_vi - V_exact|"] = float(np.abs(ag.v - exact).max())
    x = np.array(per_run)
    lo, hi = bootstrap_ci(x, iqm, reps=50_000, seed=0)
    return {"experiment": name, "agent": algo, "scenario": sc_id, "budget": budget, "seeds": seeds,
            "episodes_per_run": episodes, "iqm": iqm(x), "ci95": [lo, hi], "per_run_mean": per_run,
            "wall_s_per_run": [round(w, 1) for w in walls], "target": target, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(EXPERIMENTS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        print("\n".join(EXPERIMENTS))
        return
    torch.set_num_threads(1)
    for name in args.only:
        print(json.dumps(run(name, list(range(args.seeds)))), flush=True)


if __name__ == "__main__":
    main()
