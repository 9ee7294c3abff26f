"""Reference results for system identification beyond Hopper (issue #22).

1. ``recovery``: on three tasks other than Hopper and HalfCheetah, a target with
   hidden changes to parameters of two or more kinds (a dynamics layer, mode
   startup); for seeds 0-4, record 20 episodes of the seeded uniform random policy
   (``ScenarioSystem``, which exposes the simulator state) and identify with
   ``sim2real.sysid.identify`` (at most ``--max-transitions`` transitions drawn
   from the data). Reports each estimate's relative error and the wall time.
2. ``proxy``: the full ``sim2real/<Task>-real-v0`` proxies (torso 1.3x, friction
   0.7x, 1-step latency, deadband 0.05, sensor noise and bias 0.02), Hopper and
   HalfCheetah, seeds 0-4, 20 episodes each; identify torso mass and friction
   with delay candidates (0, 1, 2) and deadband candidates (0, 0.05).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/sysid_reference.py --parts recovery proxy
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import agents
from sim2real.adapter import ScenarioSystem, record
from sim2real.sysid import identify

CASES: dict[str, list[tuple[str, dict, float]]] = {
    # task: (sysid parameter, dynamics-layer entry, true scale)
    "Walker2d": [("body_mass:torso", {"field": "body_mass", "names": ["torso"]}, 1.25),
                 ("damping:*", {"field": "dof_damping"}, 1.5),
                 ("friction:*", {"field": "geom_friction", "component": 0}, 0.8)],
    "Ant": [("body_mass:torso", {"field": "body_mass", "names": ["torso"]}, 1.3),
            ("gain:*", {"field": "actuator_gear", "component": 0}, 0.85),
            ("friction:*", {"field": "geom_friction", "component": 0}, 0.7)],
    "Reacher": [("body_mass:body1", {"field": "body_mass", "names": ["body1"]}, 1.3),
                ("damping:*", {"field": "dof_damping"}, 0.6),
                ("armature:*", {"field": "dof_armature"}, 1.5)],
}


TASKS = list(CASES)


def target_spec(task: str) -> dict:
    """The task with its hidden changes."""
    params = [{**entry, "distribution": "constant", "value": true} for _, entry, true in CASES[task]]
    return {"id": f"mujoco/{task}-hidden-v5", "source": f"gymnasium:{task}-v5",
            "layers": [{"type": "dynamics", "params": {"mode": "startup", "parameters": params}}]}


def save(results: dict, out: Path) -> None:
    """Write the results so far (each task's block as it finishes)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))


def part_recovery(seeds: int, episodes: int, max_transitions: int, results: dict, out: Path) -> None:
    """Hidden multi-kind changes on three tasks beyond Hopper."""
    for task in TASKS:
        names = [n for n, _, _ in CASES[task]]
        truth = {n: t for n, _, t in CASES[task]}
        rows = []
        for seed in range(seeds):
            data = record(ScenarioSystem(target_spec(task)), agents.make("random", f"mujoco/{task}-v5", seed=seed),
                          episodes=episodes, seed=100 * seed)
            t0 = time.perf_counter()
            res = identify(f"mujoco/{task}-v5", data, names, max_transitions=max_transitions, seed=seed)
            errors = {n: abs(res.scales[n] / truth[n] - 1) if n in res.scales else None for n in names}
            rows.append({"scales": res.scales, "errors": errors, "unidentifiable": res.unidentifiable,
                         "transitions": res.transitions, "wall_s": time.perf_counter() - t0})
            print(f"recovery {task} seed {seed}: {res.scales} errors {errors} ({res.transitions} transitions, "
                  f"{rows[-1]['wall_s']:.1f} s)", flush=True)
        results[f"recovery/{task}"] = {"truth": truth, "episodes": episodes, "runs": rows}
        save(results, out)


def part_proxy(seeds: int, episodes: int, max_transitions: int, results: dict, out: Path) -> None:
    """Torso mass and friction on the full real proxies, with delay and deadband candidates."""
    truth = {"body_mass:torso": 1.3, "friction:*": 0.7}
    for task in ("Hopper", "HalfCheetah"):
        rows = []
        for seed in range(seeds):
            data = record(ScenarioSystem(f"sim2real/{task}-real-v0"), agents.make("random", f"mujoco/{task}-v5", seed=seed),
                          episodes=episodes, seed=100 * seed)
            t0 = time.perf_counter()
            res = identify(f"mujoco/{task}-v5", data, list(truth), delays=(0, 1, 2), deadbands=(0.0, 0.05),
                           max_transitions=max_transitions, seed=seed)
            errors = {n: abs(res.scales[n] / truth[n] - 1) if n in res.scales else None for n in truth}
            rows.append({"scales": res.scales, "errors": errors, "delay": res.delay, "deadband": res.deadband,
                         "mode": res.mode, "wall_s": time.perf_counter() - t0})
            print(f"proxy {task} seed {seed}: {res.scales} delay {res.delay} deadband {res.deadband} errors {errors} "
                  f"({res.mode}, {rows[-1]['wall_s']:.1f} s)", flush=True)
        results[f"proxy/{task}"] = {"truth": truth, "episodes": episodes, "runs": rows}
        save(results, out)


def main() -> None:
    """Run the requested parts, write JSON, print the worst error per parameter."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", default=["recovery", "proxy"], choices=["recovery", "proxy"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--max-transitions", type=int, default=300)
    p.add_argument("--tasks", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sysid_reference.json"))
    args = p.parse_args()
    global TASKS
    TASKS = args.tasks
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if "recovery" in args.parts:
        part_recovery(args.seeds, args.episodes, args.max_transitions, results, args.out)
    if "proxy" in args.parts:
        part_proxy(args.seeds, args.episodes, args.max_transitions, results, args.out)
    for key, block in results.items():
        for name in block["truth"]:
            errs = [r["errors"][name] for r in block["runs"]]
            worst = "unidentified" if any(e is None for e in errs) else f"{100 * max(errs):.2f}%"
            est = [r["scales"].get(name, np.nan) for r in block["runs"]]
            print(f"{key} {name} (true {block['truth'][name]}): {min(est):.4f}-{max(est):.4f}, worst error {worst}")


if __name__ == "__main__":
    main()
