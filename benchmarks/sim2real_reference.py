"""Reference results for sim2real on Hopper: identification, transfer gap, ADR ranges.

1. ``sysid``: for seeds 0-4, record 20 episodes of the uniform random policy
   (seeded) on ``sim2real/Hopper-real-dyn-v0`` (hidden torso mass 1.3x, contact
   friction 0.7x) and identify both scales with ``sim2real.sysid``; report the
   estimates and their relative errors. The same on the full proxy
   ``sim2real/Hopper-real-v0`` (plus latency, deadband, sensor noise and bias),
   identifying the action delay too.
1b. ``dropo``: the same target data (seeds 0-4), identified as a distribution
   with ``sim2real.dropo.identify_distribution`` (DROPO likelihood, CMA-ES, 8
   draws, 300 evaluations): fitted medians and log-stds.
2. ``gap``: nominal PPO (``runs/adversarial_reference/ppo-<seed>``, 200k steps,
   from benchmarks/adversarial_reference.py) vs PPO trained 200k steps with
   randomization centred on the full-proxy identification (log-uniform ranges
   of at least +-20% around each estimate, plus the identified action delay);
   each evaluated on nominal Hopper-v5 (source) and on ``sim2real/Hopper-real-v0``
   (target), 20 episodes each (seeds 0-19); gap = source - target. IQM over seeds.
3. ``adr``: ADR on Hopper-v5 over torso mass and contact friction (start [1, 1],
   delta 0.1, widen at >= 1000, narrow below 500, 10k-step chunks, ``--steps``,
   boundary sampling ``--adr-boundary-prob``, default 0.5; 0 reproduces the
   2026-11-27 runs without it),
   seeds 0-4; report the final ranges, whether they cover (1.3, 0.7), and each
   ADR policy's transfer gap to ``sim2real/Hopper-real-dyn-v0`` (the hidden
   dynamics alone) and ``sim2real/Hopper-real-v0``, 20 episodes each.

4. ``nominal``: PPO on nominal Hopper-v5 for ``--steps`` (seeds 0-4, the ADR
   runs' budget and PPO settings), with the same transfer gaps as ``adr``; the
   checkpoints are ``runs/adversarial_reference/ppo-<seed>`` (trained there
   with the same settings if present, so pass the same ``--steps``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sim2real_reference.py --parts sysid dropo gap adr nominal
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import agents
from sim2real.adapter import ScenarioSystem, record
from sim2real.dropo import identify_distribution
from sim2real.sysid import identify
from sim2real.transfer import transfer_gap
from testbed.metrics import bootstrap_ci, iqm

PARAMS = ["body_mass:torso", "friction:*"]
TRUE = {"body_mass:torso": 1.3, "friction:*": 0.7}


def part_fit(name: str, seeds: int, results: dict) -> None:
    """Identification on the dynamics-only and the full proxy: ``sysid`` (point) or ``dropo`` (distribution)."""
    for target, delays in (("sim2real/Hopper-real-dyn-v0", (0,)), ("sim2real/Hopper-real-v0", (0, 1, 2))):
        rows = []
        for seed in range(seeds):
            data = record(ScenarioSystem(target), agents.make("random", "mujoco/Hopper-v5", seed=seed), episodes=20, seed=100 * seed)
            t0 = time.perf_counter()
            if name == "sysid":
                res = identify("mujoco/Hopper-v5", data, PARAMS, delays=delays, seed=seed)
            else:
                res = identify_distribution("mujoco/Hopper-v5", data, PARAMS, delays=delays, seed=seed, samples=8, max_evaluations=300)
            rows.append({"scales": res.scales, "delay": res.delay, "transitions": res.transitions, "wall_s": time.perf_counter() - t0,
                         "errors": {p: abs(res.scales[p] / TRUE[p] - 1) for p in PARAMS}, "log_std": res.log_std,
                         "noise_std": res.noise_std})
            print(f"{name} {target} seed {seed}: {res.scales} log-std {res.log_std} delay {res.delay} "
                  f"({res.transitions} transitions, {rows[-1]['wall_s']:.1f} s)", flush=True)
        results[f"{name}/{target}"] = rows


def part_gap(seeds: int, steps: int, results: dict, runs: Path) -> None:
    """Transfer gap of nominal vs identification-centred randomized PPO."""
    data = record(ScenarioSystem("sim2real/Hopper-real-v0"), agents.make("random", "mujoco/Hopper-v5", seed=0), episodes=20, seed=0)
    res = identify("mujoco/Hopper-v5", data, PARAMS, delays=(0, 1, 2))
    layers = [res.dynamics_layer(k=2.0, min_width=0.2)]
    if res.delay:
        layers.append({"type": "action_delay", "params": {"steps": res.delay}})
    randomized = {"id": "mujoco/Hopper-sysid-randomized-v5", "source": "gymnasium:Hopper-v5", "layers": layers}
    gaps: dict[str, list[dict]] = {"nominal": [], "randomized": []}
    for seed in range(seeds):
        nominal = agents.load(runs / "adversarial_reference" / f"ppo-{seed}", "mujoco/Hopper-v5")
        path = runs / "sim2real_reference" / f"randomized-{seed}"
        if (path / "agent.json").is_file():
            rand = agents.load(path)
        else:
            rand = agents.make("ppo", randomized, seed=seed)
            rand.learn(steps)
            rand.save(path)
        for name, ag in (("nominal", nominal), ("randomized", rand)):
            rep = transfer_gap(ag, "sim2real/Hopper-real-v0", source="mujoco/Hopper-v5", episodes=20, seed=0)
            gaps[name].append(rep.__dict__)
            print(f"{name} seed {seed}: source {rep.source:.0f} target {rep.target:.0f} gap {rep.gap:.0f} {rep.gap_ci}", flush=True)
    results["gap"] = {"identified": res.scales, "delay": res.delay, "layers": layers, "runs": gaps}


def part_adr(seeds: int, steps: int, results: dict, runs: Path, boundary_prob: float) -> None:
    """ADR's final ranges and whether they cover the hidden target values."""
    rows = []
    folder = "adr" if boundary_prob == 0 else f"adr-bp{boundary_prob:g}"
    for seed in range(seeds):
        ag = agents.make("adr", "mujoco/Hopper-v5", seed=seed, parameters=PARAMS, initial=[1.0, 1.0], limits=[0.3, 3.0],
                         delta=0.1, t_low=500, t_high=1000, chunk=10_000, boundary_episodes=5, boundary_prob=boundary_prob)
        t0 = time.perf_counter()
        ag.learn(steps)
        ag.save(runs / "sim2real_reference" / f"{folder}-{seed}")
        wall = time.perf_counter() - t0
        cover = all(ag.ranges[p][0] <= TRUE[p] <= ag.ranges[p][1] for p in PARAMS)
        gaps = {t: transfer_gap(ag, t, source="mujoco/Hopper-v5", episodes=20, seed=0).__dict__ for t in TARGETS}
        rows.append({"ranges": ag.ranges, "covers_target": cover, "wall_s": wall, "gaps": gaps})
        summary = ", ".join(f"{t}: source {g['source']:.0f} target {g['target']:.0f}" for t, g in gaps.items())
        print(f"adr seed {seed}: {ag.ranges} covers target: {cover} ({wall:.0f} s); {summary}", flush=True)
    results["adr"] = rows


TARGETS = ("sim2real/Hopper-real-dyn-v0", "sim2real/Hopper-real-v0")


def part_nominal(seeds: int, steps: int, results: dict, runs: Path) -> None:
    """Nominal PPO at the ADR budget: transfer gaps to the same targets."""
    rows = []
    for seed in range(seeds):
        path = runs / "adversarial_reference" / f"ppo-{seed}"  # shared with benchmarks/adversarial_reference.py
        if (path / "agent.json").is_file():
            ag = agents.load(path)
        else:
            ag = agents.make("ppo", "mujoco/Hopper-v5", seed=seed)  # ppo.yaml defaults = ADR's PPO settings
            ag.learn(steps)
            ag.save(path)
        gaps = {t: transfer_gap(ag, t, source="mujoco/Hopper-v5", episodes=20, seed=0).__dict__ for t in TARGETS}
        rows.append({"gaps": gaps})
        summary = ", ".join(f"{t}: source {g['source']:.0f} target {g['target']:.0f}" for t, g in gaps.items())
        print(f"nominal ppo seed {seed}: {summary}", flush=True)
    results["nominal"] = rows


def main() -> None:
    """Run the requested parts and write JSON; print summary lines."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", default=["sysid", "dropo", "gap", "adr"], choices=["sysid", "dropo", "gap", "adr", "nominal"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--runs", type=Path, default=Path("runs"))
    p.add_argument("--adr-boundary-prob", type=float, default=0.5, help="ADR's share of training draws on the boundaries.")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sim2real_reference.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if "sysid" in args.parts:
        part_fit("sysid", args.seeds, results)
    if "dropo" in args.parts:
        part_fit("dropo", args.seeds, results)
    if "gap" in args.parts:
        part_gap(args.seeds, args.steps, results, args.runs)
    if "adr" in args.parts:
        part_adr(args.seeds, args.steps, results, args.runs, args.adr_boundary_prob)
    if "nominal" in args.parts:
        part_nominal(args.seeds, args.steps, results, args.runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float))
    if "gap" in results:
        for name, rows in results["gap"]["runs"].items():
            g = np.array([r["gap"] for r in rows])
            lo, hi = bootstrap_ci(g)
            print(f"gap {name}: IQM {iqm(g):.0f} [{lo:.0f}, {hi:.0f}] over {len(g)} seeds")


if __name__ == "__main__":
    main()
