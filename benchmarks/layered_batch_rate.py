"""Layered scenarios at batched speed: the ``-medium-v0`` presets and the ``sim2real`` proxies on
the batched backend vs the same task's nominal batched rate, and vs the Gymnasium-copies face
with the same layers. N copies, random actions, observations and rewards included; one process,
the same actions for every face, interleaved rounds, best round reported.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/layered_batch_rate.py [--n 64] [--steps 200] [--rounds 3]

Targets (issue #15): layered batch >= 80% of nominal batch, and >= 4x the Gymnasium-copies face.
A second table compares MaMuJoCo scenarios (no layers) on both faces.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import scenarios

PAIRS = [
    ("mujoco/Hopper-v5", "mujoco/Hopper-medium-v0"),
    ("mujoco/HalfCheetah-v5", "mujoco/HalfCheetah-medium-v0"),
    ("mujoco/Ant-v5", "mujoco/Ant-medium-v0"),
    ("mujoco/Hopper-v5", "sim2real/Hopper-real-v0"),
    ("mujoco/HalfCheetah-v5", "sim2real/HalfCheetah-real-v0"),
]


MULTI = ["mamujoco/HalfCheetah-2x3-v1", "mamujoco/Ant-2x4-v1"]


def rate(sid: str, backend: str, actions: np.ndarray) -> float:
    """Environment steps per second of ``sid`` on ``backend`` for these actions (N copies, autoreset);
    a multi-agent scenario splits each row of ``actions`` between its agents in order."""
    vec = scenarios.make(sid).vector(actions.shape[1], seed=0, backend=backend)
    vec.reset()
    widths = [vec.action_spaces[a].shape[0] for a in vec.agents]
    cuts = np.cumsum([0, *widths])
    steps = [{a: row[:, cuts[k] : cuts[k + 1]] for k, a in enumerate(vec.agents)} for row in actions]
    t0 = time.perf_counter()
    for a in steps:
        vec.step(a)
    elapsed = time.perf_counter() - t0
    vec.close()
    return actions.shape[0] * actions.shape[1] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"N={args.n}, {args.steps} vector steps per round, best of {args.rounds} rounds")
    print(f"{'layered scenario':32s} {'nominal batch':>14s} {'layered batch':>14s} {'layered gym':>12s} "
          f"{'batch/nominal':>14s} {'batch/gym':>10s}")
    for nominal, layered in PAIRS:
        space = scenarios.make(nominal).action_space("agent_0")
        actions = np.random.default_rng(0).uniform(space.low, space.high, (args.steps, args.n, *space.shape)).astype(np.float32)
        best = {"nominal": 0.0, "batch": 0.0, "gym": 0.0}
        for _ in range(args.rounds):
            best["nominal"] = max(best["nominal"], rate(nominal, "batch", actions))
            best["batch"] = max(best["batch"], rate(layered, "batch", actions))
            best["gym"] = max(best["gym"], rate(layered, "gymnasium", actions))
        print(f"{layered:32s} {best['nominal']:14,.0f} {best['batch']:14,.0f} {best['gym']:12,.0f} "
              f"{best['batch'] / best['nominal']:14.2f} {best['batch'] / best['gym']:10.1f}", flush=True)
    print(f"\n{'MaMuJoCo scenario':32s} {'batch':>14s} {'Gymnasium':>14s} {'batch/gym':>10s}")
    for sid in MULTI:
        sc = scenarios.make(sid)
        width = sum(sc.action_space(a).shape[0] for a in sc.possible_agents)
        actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, args.n, width)).astype(np.float32)
        best = {"batch": 0.0, "gym": 0.0}
        for _ in range(args.rounds):
            best["batch"] = max(best["batch"], rate(sid, "batch", actions))
            best["gym"] = max(best["gym"], rate(sid, "gymnasium", actions))
        print(f"{sid:32s} {best['batch']:14,.0f} {best['gym']:14,.0f} {best['batch'] / best['gym']:10.1f}", flush=True)


if __name__ == "__main__":
    main()
