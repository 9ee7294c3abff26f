"""Rainbow beside DQN and double DQN at the same budget, and Rainbow with one part removed.

Every variant is our DQN core (``agents/dqn.py``) with the same settings; only the flags
differ: ``dqn`` (no flags), ``double_dqn`` (double), ``rainbow`` (double, dueling,
prioritized, 3-step, C51, noisy) and ``rainbow-X`` (Rainbow with part X off). Each run trains
with seeds 0..S-1 for the budget and is evaluated deterministically on 10 episodes (reset
seeds 1000-1009); reported: IQM over runs of the per-run mean return with a 95%
percentile-bootstrap CI, the per-run means and the wall time per run (one core, shared
machine). One JSON line per variant.

    nice -n 10 .venv/bin/python benchmarks/rainbow_ablation.py --scenario classic/CartPole-v1 --steps 15000 --seeds 5 \\
        --only rainbow rainbow-noisy ...
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

# the catalog test's small DQN settings (tests/test_agents_catalog.py SMALL_DQN): a cheap common ground
COMMON = dict(learning_starts=500, train_freq=4, gradient_steps=1, target_update_interval=250, net_arch=[64, 64],
              eps_fraction=0.3, learning_rate=1e-3, batch_size=64, tau=1.0)
SUPPORT = {"classic/CartPole-v1": dict(v_min=0.0, v_max=100.0), "classic/Acrobot-v1": dict(v_min=-100.0, v_max=0.0)}
RAINBOW = dict(double=True, dueling=True, prioritized=True, n_step=3, distributional=True, noisy=True)
VARIANTS = {
    "dqn": ("double_dqn", dict(double=False)),
    "double_dqn": ("double_dqn", {}),
    "rainbow": ("rainbow", {}),
    **{f"rainbow-{part}": ("rainbow", {part: (1 if part == "n_step" else False)}) for part in RAINBOW},
}


def run(variant: str, sc_id: str, steps: int, seeds: list[int]) -> dict:
    """Train and evaluate one variant over ``seeds``."""
    name, flags = VARIANTS[variant]
    sc = scenarios.make(sc_id)
    hp = {**COMMON, **SUPPORT.get(sc_id, {}), **flags} if name == "rainbow" else {**COMMON, **flags}
    per_run, walls = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        ag = agents.make(name, sc, seed=seed, **hp)
        ag.learn(steps)
        walls.append(time.perf_counter() - t0)
        recs = testbed.evaluate(ag, sc, episodes=10, seed=1000, num_envs=8)
        per_run.append(float(np.mean([r.team_return for r in recs])))
    x = np.array(per_run)
    lo, hi = bootstrap_ci(x, iqm, reps=50_000, seed=0)
    return {"variant": variant, "agent": name, "overrides": hp, "scenario": sc_id, "steps": steps, "seeds": seeds,
            "iqm": iqm(x), "ci95": [lo, hi], "per_run_mean": per_run, "wall_s_per_run": [round(w, 1) for w in walls]}


def main() -> None:
    """Run the variants named on the command line, one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="classic/CartPole-v1")
    parser.add_argument("--steps", type=int, default=15_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for variant in args.only:
        print(json.dumps(run(variant, args.scenario, args.steps, list(range(args.seeds)))), flush=True)


if __name__ == "__main__":
    main()
