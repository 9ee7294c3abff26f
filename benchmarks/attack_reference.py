"""Reference table for the strongest observation attacks (the SA-PPO / ATLA protocol): PPO and
adversarially trained PPO on ``mujoco/Hopper-v5`` under every attack at two budgets.

Victims (trained here when missing, in ``benchmarks/adversarial_reference.py``'s folders):
``ppo`` (SB3 PPO, ``agents/defaults/ppo.yaml`` settings) and ``adv_ppo`` (the same PPO on
PGD-perturbed observations, attack_eps ``--adv-eps`` = 0.1 in running-std units, half the
observations, 5 PGD steps), ``--steps`` environment steps each, seeds 0-4.

Attacks (``testbed.attack_curve(..., "all")``): random, fgsm, pgd and mad (10 steps), critic
(10 steps), robust_sarsa (critic fitted on ``--train-steps`` victim steps, 10 attack steps)
and learned (SB3 PPO adversary, ``--learned-steps`` per victim and budget), at eps 0.1 and
0.2. One budget unit for every victim: the per-dimension observation std of the seed-0 PPO
policy's own roll-outs. 10 episodes per point (reset seeds 20000-20009), deterministic
victims. Per victim and budget, "worst" is the lowest mean return over the attacks.
Reported: IQM over the 5 seeds with 95% bootstrap CIs; return = Hopper-v5's default reward
summed over the episode (1000-step limit).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/attack_reference.py --methods ppo --out benchmarks/results/attack_reference-ppo.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/attack_reference.py --methods adv_ppo --out benchmarks/results/attack_reference-adv_ppo.json
    .venv/bin/python benchmarks/attack_reference.py --table benchmarks/results/attack_reference-ppo.json benchmarks/results/attack_reference-adv_ppo.json
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
from agents.adversarial.attack_kinds import ATTACKS
from testbed.attack_curve import attack_curve
from testbed.attack_summary import worst_of_attacks
from testbed.metrics import iqm_text as stat

TASK = "mujoco/Hopper-v5"
EPS = [0.1, 0.2]



def table(files: list[Path]) -> None:
    """The markdown table of one or more result files."""
    results: dict[str, dict[str, list[float]]] = {}
    for f in files:
        results.update(json.loads(f.read_text())["victims"])
    cols = ["clean"] + [f"{k}@{e}" for e in EPS for k in (*ATTACKS, "worst")]
    print("| victim | " + " | ".join(c.replace("@", " ") for c in cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for victim, row in results.items():
        print(f"| {victim} | " + " | ".join(stat(row[c]) if c in row else "-" for c in cols) + " |")


def main() -> None:
    """Train (or reuse) the victims, run every attack at every budget, write JSON, print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--adv-eps", type=float, default=0.1)
    p.add_argument("--train-steps", type=int, default=20_000, help="robust_sarsa's victim steps.")
    p.add_argument("--learned-steps", type=int, default=100_000, help="The learned adversary's PPO steps per budget.")
    p.add_argument("--runs", type=Path, default=Path("runs/adversarial_reference"))
    p.add_argument("--methods", nargs="+", default=["ppo", "adv_ppo"], choices=["ppo", "adv_ppo"])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/attack_reference.json"))
    p.add_argument("--table", type=Path, nargs="+", help="Only print the table of these result files.")
    args = p.parse_args()
    if args.table:
        table(args.table)
        return
    torch.set_num_threads(1)
    sc = scenarios.make(TASK)
    folder = {"ppo": "ppo", "adv_ppo": f"adv_ppo-eps{args.adv_eps:g}" if args.adv_eps != 0.2 else "adv_ppo"}
    settings = {"ppo": {}, "adv_ppo": {"attack_eps": args.adv_eps, "attack_prob": 0.5, "attack_steps": 5}}
    for method in ("ppo", *args.methods):
        for seed in range(args.seeds if method in args.methods else 1):
            path = args.runs / f"{folder[method]}-{seed}"
            if not (path / "agent.json").is_file():
                ag = agents.make(method, TASK, seed=seed, **settings[method])
                ag.learn(args.steps)
                ag.save(path)
    reference = agents.load(args.runs / "ppo-0", sc)
    out: dict = {"settings": vars(args) | {"runs": str(args.runs), "out": str(args.out)}, "victims": {}, "walls": {}}
    out["settings"].pop("table")
    for method in args.methods:
        row: dict[str, list[float]] = {}
        for seed in range(args.seeds):
            victim = agents.load(args.runs / f"{folder[method]}-{seed}", sc)
            clean = testbed.evaluate(victim, sc, episodes=10, seed=20_000)
            row.setdefault("clean", []).append(float(np.mean([r.team_return for r in clean])))
            t0 = time.perf_counter()
            recs = []
            for kind in ATTACKS:
                steps = args.learned_steps if kind == "learned" else args.train_steps
                k0 = time.perf_counter()
                recs += attack_curve(victim, sc, kind, EPS, episodes=10, seed=20_000, std_from=reference, train_steps=steps)
                out["walls"].setdefault(f"{method}/{kind}", []).append(time.perf_counter() - k0)
            for kind in ATTACKS:
                for eps in EPS:
                    x = [r.team_return for r in recs if r.params["attack"] == kind and r.params["eps"] == eps]
                    row.setdefault(f"{kind}@{eps}", []).append(float(np.mean(x)))
            for eps, (value, kind) in worst_of_attacks(recs).items():
                row.setdefault(f"worst@{eps}", []).append(value)
                row.setdefault(f"worst_kind@{eps}", []).append(kind)  # type: ignore[arg-type]
            print(f"{method} seed {seed}: clean {row['clean'][-1]:.0f}, "
                  + ", ".join(f"{k} {row[k][-1]:.0f}" for k in row if "@" in k and "kind" not in k)
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
        out["victims"][method] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, default=float))
    table([args.out])


if __name__ == "__main__":
    main()
