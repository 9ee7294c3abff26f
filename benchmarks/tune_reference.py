"""Reference result for ``testbed tune``: tuned PPO vs the shipped defaults on held-out seeds.

1. Tune: an Optuna study of PPO on ``classic/Acrobot-v1`` at a 50k-step budget, 30 trials,
   2 seeds per trial (objective: the median of the two seeds' mean deterministic return
   over 10 episodes, reset seeds 10,000-10,009), 4 intermediate evaluations, median
   pruning; TPE sampler seed 0. The same as
   ``testbed tune ppo classic/Acrobot-v1 --trials 30 --seeds 2 --steps 50000``.
2. Held out: the shipped default and the tuned config each train on seeds 100-104
   (none used while tuning) for 50k steps and are evaluated on 20 deterministic episodes
   with reset seeds 20,000-20,019 (none used while tuning). Reported: IQM over the 5 runs
   of the mean return with a 95% percentile-bootstrap CI, the per-seed means, and the
   probability of improvement (Mann-Whitney U over runs, as rliable).

Reward: Gymnasium Acrobot-v1's (-1 per step until the goal, 500-step limit); higher is better.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune_reference.py
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
from testbed import tuning
from testbed.metrics import bootstrap_ci, iqm

HELD_OUT_SEEDS, HELD_OUT_EVAL = range(100, 105), 20_000


def held_out(hparams: dict, scenario: str, steps: int, episodes: int) -> list[float]:
    """Mean return per held-out seed of PPO with ``hparams`` over the tuned defaults."""
    out = []
    for seed in HELD_OUT_SEEDS:
        ag = agents.make("ppo", scenario, seed=seed, **hparams)
        ag.learn(steps)
        recs = testbed.evaluate(ag, episodes=episodes, seed=HELD_OUT_EVAL)
        out.append(float(np.mean([r.team_return for r in recs])))
        print(f"  seed {seed}: {out[-1]:.1f}", flush=True)
    return out


def prob_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + P(X = Y) / 2 over all pairs of runs (Mann-Whitney U / (n m))."""
    return float(np.mean([(a > b) + 0.5 * (a == b) for a in x for b in y]))


def main() -> None:
    """Tune, then compare default and tuned configs on held-out seeds; print and store the result."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="classic/Acrobot-v1")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--objective", default="median", choices=["median", "mean", "min"])
    p.add_argument("--storage", default="sqlite:///runs/tune_reference.db")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/tune_reference.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    Path("runs").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    study = tuning.tune("ppo", args.scenario, args.trials, args.seeds, args.steps, args.storage, objective=args.objective)
    tune_s = time.perf_counter() - t0
    config = tuning.best_config(study, "ppo", args.scenario)
    tuning.write_config(config, args.out.with_suffix(".yaml"))
    print(f"tuned in {tune_s:.0f} s: trial {config['tuned']['trial']}, {args.objective} {config['tuned']['objective']:.1f}",
          flush=True)
    print("default:", flush=True)
    default = np.array(held_out({}, args.scenario, args.steps, args.episodes))
    print("tuned:", flush=True)
    tuned = np.array(held_out(config["hparams"], args.scenario, args.steps, args.episodes))
    states = [t.state.name.lower() for t in study.trials]
    result = {
        "scenario": args.scenario, "objective": args.objective, "trials": args.trials, "seeds_per_trial": args.seeds, "steps": args.steps,
        "tune_wall_s": tune_s, "states": {s: states.count(s) for s in set(states)}, "best": config,
        "held_out_seeds": list(HELD_OUT_SEEDS), "held_out_eval_seed": HELD_OUT_EVAL, "episodes": args.episodes,
        "default": {"per_seed": default.tolist(), "iqm": iqm(default), "ci": list(bootstrap_ci(default))},
        "tuned": {"per_seed": tuned.tolist(), "iqm": iqm(tuned), "ci": list(bootstrap_ci(tuned))},
        "prob_improvement": prob_improvement(tuned, default),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for name in ("default", "tuned"):
        r = result[name]
        print(f"| {name} | {r['iqm']:.1f} [{r['ci'][0]:.1f}, {r['ci'][1]:.1f}] | {' '.join(f'{v:.1f}' for v in r['per_seed'])} |")
    print(f"P(tuned > default) = {result['prob_improvement']:.2f}; trials: {result['states']}")


if __name__ == "__main__":
    main()
