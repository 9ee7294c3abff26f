"""Reference results for the robotics family: success rates of SAC (SB3's and ``fast_sac``) + HER, 5 seeds.

Each experiment trains with seeds 0-4 at its budget with the tuned defaults of
``agents/defaults/sac.yaml`` (rl-baselines3-zoo's HER settings; ``--set`` style
overrides in the table), evaluates each run deterministically on 100 episodes
(reset seeds 1000-1099) and reports the IQM over runs of the per-run success
rate with a 95% percentile-bootstrap CI, the per-run rates and the wall time per
run. One process per seed (``--seed``) keeps each run under ~15 minutes of one
core; ``--summary`` pools the per-seed JSON files.

    .venv/bin/python benchmarks/robotics_reference.py --only sac_her_fetchreach --seed 0
    .venv/bin/python benchmarks/robotics_reference.py --only sac_her_fetchreach --summary
    .venv/bin/python benchmarks/robotics_reference.py --only fast_sac_her_fetchpush --seed 1 --save   # ~20 min
    .venv/bin/python benchmarks/robotics_reference.py --grid fast_sac_her_fetchpush --seed 1   # mass x friction grid
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

OUT = Path(__file__).parent / "results"
RUNS = Path(__file__).parents[1] / "runs"
"""Trained policies kept for the grid (``--save``; ignored by git)."""

BITFLIP = {"learning_starts": 1000, "gamma": 0.98, "eps_fraction": 0.3, "target_update_interval": 500, "train_freq": 1,
           "batch_size": 128, "net_arch": [256]}
"""Our DQN family on 15-bit flipping: one 256-unit layer and gamma 0.98 as in the HER paper's bit-flipping runs."""

# name -> (agent, scenario, budget, overrides, target)
EXPERIMENTS = {
    "sac_her_fetchreach": ("sac", "robotics/FetchReach-v4", 20_000, {}, ">= 0.95 (rl-zoo's budget, 20k)"),
    "sac_her_fetchpush": ("sac", "robotics/FetchPush-v4", 10_000,
                          {"batch_size": 256, "policy_kwargs": {"net_arch": [64, 64], "n_critics": 1}},
                          "report: what fits this machine (rl-zoo trains 1M steps with 3x256 nets)"),
    "sac_her_fetchpush_100k": ("sac", "robotics/FetchPush-v4", 100_000,
                               {"batch_size": 256, "policy_kwargs": {"net_arch": [256, 256], "n_critics": 2},
                                "train_freq": 5, "gradient_steps": 2},
                               "report: 100k steps at the HER paper's 0.4 updates per step (what fits one core)"),
    "sac_her_fetchpush_300k": ("sac", "robotics/FetchPush-v4", 300_000,
                               {"batch_size": 256, "policy_kwargs": {"net_arch": [256, 256], "n_critics": 2},
                                "train_freq": 5, "gradient_steps": 2},
                               "report: success after every 100k steps (one seed: ~50 min of one core, 3x the 100k run)"),
    "fast_sac_her_fetchpush": ("fast_sac", "robotics/FetchPush-v4", 200_000,
                               {"batch_size": 256, "policy_kwargs": {"net_arch": [256, 256], "n_critics": 2},
                                "train_freq": 5, "gradient_steps": 2},
                               "report: fast_sac + HER at 0.4 updates per step, 200k steps (~20 min of one core)"),
    "double_dqn_her_bitflip": ("double_dqn", "goals/BitFlipping-v0", 20_000, {**BITFLIP, "her": True},
                               "report: HER in our DQN family"),
    "double_dqn_bitflip": ("double_dqn", "goals/BitFlipping-v0", 20_000, BITFLIP, "report (the same without HER)"),
    "rainbow_her_bitflip": ("rainbow", "goals/BitFlipping-v0", 20_000, {**BITFLIP, "her": True, "v_min": -15.0, "v_max": 0.0},
                            "report: HER with n-step, prioritized, C51 and noisy nets"),
    "sac_her_pointmaze": ("sac", "robotics/PointMaze_UMaze-v3", 10_000, {"her": True, "n_sampled_goal": 4}, "report"),
    "sac_pointmaze": ("sac", "robotics/PointMaze_UMaze-v3", 10_000, {}, "report (the same budget without HER)"),
}


def _path(name: str, seed: int, kind: str = "run") -> Path:
    return OUT / f"robotics_{name}_{kind}_seed{seed}.json"


STAGE = 100_000
"""Runs longer than this are evaluated after every ``STAGE`` steps too (``learn`` continues exactly)."""


def _evaluate(ag: object) -> tuple[float, float]:
    """Success rate and mean return over the 100 evaluation episodes (reset seeds 1000-1099)."""
    recs = testbed.evaluate(ag, episodes=100, seed=1000, num_envs=8)
    return float(np.mean([bool(r.success) for r in recs])), float(np.mean([r.team_return for r in recs]))


def train(name: str, seed: int) -> tuple[object, float, dict[int, float]]:
    """Train one run; returns the agent, its wall time (training only) and the success rate after
    each ``STAGE`` steps of runs longer than one stage."""
    algo, sc_id, budget, hp, _ = EXPERIMENTS[name]
    if budget > STAGE and "total_steps" in agents.agent_class(algo).valid_hyperparameters():
        hp = {**hp, "total_steps": budget}  # schedules run over the whole budget, not the first chunk
    ag = agents.make(algo, sc_id, seed=seed, **hp)
    wall, done, stages = 0.0, 0, {}
    while done < budget:
        chunk = min(STAGE, budget - done)
        t0 = time.perf_counter()
        ag.learn(chunk)
        wall += time.perf_counter() - t0
        done += chunk
        if done < budget:
            stages[done] = _evaluate(ag)[0]
            print(json.dumps({"steps": done, "success_rate": stages[done]}), flush=True)
    return ag, wall, stages


def run(name: str, seed: int, save: bool) -> dict:
    """Train and evaluate one seed; writes its JSON file."""
    algo, sc_id, budget, hp, target = EXPERIMENTS[name]
    ag, wall, stages = train(name, seed)
    success, mean_return = _evaluate(ag)
    out = {"experiment": name, "agent": algo, "scenario": sc_id, "budget": budget, "overrides": hp, "seed": seed,
           "success_rate": success, "mean_return": mean_return, "wall_s": round(wall, 1),
           "torch_threads": torch.get_num_threads(), "target": target,
           **({"success_by_steps": stages} if stages else {})}
    OUT.mkdir(exist_ok=True)
    _path(name, seed).write_text(json.dumps(out, indent=1))
    if save:
        ag.save(RUNS / f"robotics_{name}_seed{seed}")  # the grid reuses it
    return out


def summary(name: str) -> dict:
    """Pool the per-seed files of one experiment: IQM of success rates with a 95% bootstrap CI."""
    rows = [json.loads(p.read_text()) for p in sorted(OUT.glob(f"robotics_{name}_run_seed*.json"))]
    x = np.array([r["success_rate"] for r in rows])
    lo, hi = bootstrap_ci(x, iqm, reps=50_000, seed=0)
    return {"experiment": name, "scenario": rows[0]["scenario"], "budget": rows[0]["budget"],
            "seeds": [r["seed"] for r in rows], "success_iqm": iqm(x), "ci95": [lo, hi],
            "per_run_success": x.tolist(), "wall_s_per_run": [r["wall_s"] for r in rows], "target": rows[0]["target"]}


def grid(name: str, seed: int) -> dict:
    """The saved policy of one seed on a grid of object mass x table/object friction (Fetch), 50 episodes a point."""
    ag = agents.load(RUNS / f"robotics_{name}_seed{seed}")
    sc_id = EXPERIMENTS[name][1]
    rows = []
    for mass in (0.5, 1.0, 2.0, 4.0):
        for fric in (0.25, 0.5, 1.0, 2.0):
            layer = {"type": "dynamics", "params": {"mode": "reset", "parameters": [
                {"field": "body_mass", "names": ["object0"], "distribution": "constant", "value": mass},
                {"field": "geom_friction", "names": ["#22", "object0"], "distribution": "constant", "value": fric}]}}
            spec = {"id": "robotics/FetchGrid-v0", "source": f"gymnasium:{sc_id.split('/')[1]}", "time_limit": 50, "layers": [layer]}
            recs = testbed.evaluate(ag, spec, episodes=50, seed=2000, num_envs=8)
            rows.append({"mass_x": mass, "friction_x": fric, "success_rate": float(np.mean([bool(r.success) for r in recs]))})
    out = {"experiment": name, "seed": seed, "grid": rows}
    _path(name, seed, "grid").write_text(json.dumps(out, indent=1))
    return out


def main() -> None:
    """Command line: one seed of one experiment, its summary, or a robustness grid."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=list(EXPERIMENTS))
    p.add_argument("--grid", choices=list(EXPERIMENTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--summary", action="store_true")
    p.add_argument("--save", action="store_true", help="keep the trained policy (for --grid)")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.grid:
        print(json.dumps(grid(args.grid, args.seed), indent=1))
    elif args.summary:
        print(json.dumps(summary(args.only), indent=1))
    else:
        print(json.dumps(run(args.only, args.seed, args.save), indent=1))


if __name__ == "__main__":
    main()
