"""Reference results for attacks, adversarial training and RARL on ``mujoco/Hopper-v5``.

Five seeds (0-4) of each policy, every one trained with SB3 PPO's settings from
``agents/defaults/ppo.yaml``:

- ``ppo``: nominal PPO, ``--steps`` environment steps;
- ``adv_ppo``: PPO on PGD-perturbed observations (``--adv-eps``, default 0.2, in
  running-std units, half the observations attacked, 5 PGD steps, budget ramped
  over the first half), same steps;
- ``rarl``: protagonist ``--steps`` steps against a force adversary on the torso
  (3 N per unit action, x/y/z), plus as many adversary steps; both players use
  ``ppo.yaml``'s settings too (before 2026-11-27 evening RARL used its own
  rollout length, 512 steps per copy, half as many updates as PPO).

Attacks: the budget unit is the per-dimension observation std of the seed-0
PPO policy's own roll-outs (one std for every victim, so budgets are equal in
absolute terms). Each victim is evaluated on 10 episodes (reset seeds
20000-20009) clean and under random / FGSM / PGD (10 steps) / critic at
eps 0.05, 0.1, 0.2. Robustness: a torso-mass grid, scale 0.5..1.5 in 11 points,
5 episodes per point; the worst per-point mean return is the worst case.
Reported: IQM over the 5 seeds with 95% bootstrap CIs; return = Hopper-v5's
default reward summed over the episode (1000-step limit).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/adversarial_reference.py --steps 200000

``--methods`` trains and evaluates a subset (run several processes side by side,
each with its own ``--out``); ``--skip-attacks`` keeps only the grid;
``--rarl-force`` sets the adversary's newtons per unit action.
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
import testbed
from agents.adversarial.attacks import ObservationAttack, calibrate
from testbed.grid import evaluate_grid, parse_axis, robustness
from testbed.metrics import iqm_text as stat

TASK = "mujoco/Hopper-v5"
EPS = [0.05, 0.1, 0.2]
KINDS = ["random", "fgsm", "pgd", "critic"]
SETTINGS = {"ppo": {}, "adv_ppo": {"attack_eps": 0.2, "attack_prob": 0.5, "attack_steps": 5}, "rarl": {"rounds": 10}}



def main() -> None:
    """Train (or reuse) every policy, then attack and grid-evaluate them; print markdown tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--adv-eps", type=float, default=0.2, help="adv_ppo's training budget (running-std units).")
    p.add_argument("--runs", type=Path, default=Path("runs/adversarial_reference"))
    p.add_argument("--methods", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--skip-attacks", action="store_true", help="Only train and evaluate over the torso-mass grid.")
    p.add_argument("--rarl-force", type=float, default=3.0, help="rarl force_scale (N per unit adversary action).")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default: benchmarks/results/adversarial_reference[-eps<E>].json).")
    args = p.parse_args()
    if args.out is None:
        suffix = "" if args.adv_eps == 0.2 else f"-eps{args.adv_eps}"
        args.out = Path(f"benchmarks/results/adversarial_reference{suffix}.json")
    torch.set_num_threads(1)
    sc = scenarios.make(TASK)
    SETTINGS["adv_ppo"]["attack_eps"] = args.adv_eps
    SETTINGS["rarl"]["force_scale"] = args.rarl_force
    folder = {"ppo": "ppo", "rarl": "rarl" if args.rarl_force == 3.0 else f"rarl-force{args.rarl_force:g}",
              "adv_ppo": "adv_ppo" if args.adv_eps == 0.2 else f"adv_ppo-eps{args.adv_eps}"}
    walls: dict[str, list[float]] = {m: [] for m in args.methods}
    for method in args.methods:
        hp = SETTINGS[method]
        for seed in range(args.seeds):
            path = args.runs / f"{folder[method]}-{seed}"
            if (path / "agent.json").is_file():
                continue
            t0 = time.perf_counter()
            ag = agents.make(method, TASK, seed=seed, **hp)
            ag.learn(args.steps)
            ag.save(path)
            walls[method].append(time.perf_counter() - t0)
            print(f"trained {method} seed {seed} in {walls[method][-1]:.0f} s", flush=True)
    results: dict[str, dict] = {"walls": walls, "attacks": {}, "grid": {}, "settings": {m: SETTINGS[m] for m in args.methods}}
    attacked = [] if args.skip_attacks else [m for m in ("ppo", "adv_ppo") if m in args.methods]
    std = calibrate(agents.load(args.runs / "ppo-0", sc), sc) if attacked else None
    for method in attacked:
        for seed in range(args.seeds):
            victim = agents.load(args.runs / f"{folder[method]}-{seed}", sc)
            clean = testbed.evaluate(victim, sc, episodes=10, seed=20_000)
            results["attacks"].setdefault(method, {}).setdefault("clean", []).append(np.mean([r.team_return for r in clean]))
            for kind in KINDS:
                for eps in EPS:
                    recs = testbed.evaluate(victim, sc, episodes=10, seed=20_000, attack=ObservationAttack(kind, eps, victim, std, seed=seed))
                    results["attacks"][method].setdefault(f"{kind}@{eps}", []).append(float(np.mean([r.team_return for r in recs])))
        print(f"attacked {method}", flush=True)
    axis = [parse_axis("body_mass.torso=0.5:1.5:11")]
    for method in args.methods:
        for seed in range(args.seeds):
            ag = agents.load(args.runs / f"{folder[method]}-{seed}", sc)
            row = robustness(evaluate_grid(ag, sc, axis, episodes=5, seed=30_000))[0]
            results["grid"].setdefault(method, {}).setdefault("worst", []).append(row.worst)
            results["grid"][method].setdefault("nominal", []).append(row.nominal)
            results["grid"][method].setdefault("mean", []).append(row.mean)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float))
    print("\n| victim | clean | " + " | ".join(f"{k} {e}" for k in KINDS for e in EPS) + " |")
    for method, table in results["attacks"].items():
        print(f"| {method} | {stat(table['clean'])} | " + " | ".join(stat(table[f'{k}@{e}']) for k in KINDS for e in EPS) + " |")
    print("\n| policy | nominal (grid) | mean over grid | worst case |")
    for method, table in results["grid"].items():
        print(f"| {method} | {stat(table['nominal'])} | {stat(table['mean'])} | {stat(table['worst'])} |")
    print("\nwall time per training run (s):", {m: round(float(np.mean(w)), 0) for m, w in walls.items() if w})


if __name__ == "__main__":
    main()
