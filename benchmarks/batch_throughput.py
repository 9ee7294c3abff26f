"""Environment steps per second at N copies, random actions, obs and rewards included:
our batched backend vs raw ``mujoco.batch`` stepping (same frame skip, same
threads: the physical limit) vs Gymnasium's ``SyncVectorEnv``, for every task
the batched backend supports. One process, same actions, interleaved rounds.

    .venv/bin/python benchmarks/batch_throughput.py [--n 64] [--steps 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np
from mujoco import batch as mjbatch

import scenarios
from scenarios.batch import TASKS


def raw_batch(task: str, n: int, actions: np.ndarray) -> float:
    env = gym.make(task).unwrapped
    b = mjbatch.Batch(env.model, n, nthread=min(os.cpu_count() or 1, n))
    b.reset()
    ctrl = b.bind("ctrl")
    t0 = time.perf_counter()
    for a in actions:
        ctrl[:] = a
        b.step(nstep=env.frame_skip)
    return time.perf_counter() - t0


def ours(task: str, n: int, actions: np.ndarray) -> float:
    vec = scenarios.make(f"mujoco/{task}").vector(n, seed=0, backend="batch")
    vec.reset()
    t0 = time.perf_counter()
    for a in actions:
        vec.step({"agent_0": a})
    return time.perf_counter() - t0


def sync_vector(task: str, n: int, actions: np.ndarray) -> float:
    venv = gym.vector.SyncVectorEnv([lambda: gym.make(task) for _ in range(n)])
    venv.reset(seed=0)
    t0 = time.perf_counter()
    for a in actions:
        venv.step(a)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=sorted(TASKS))
    args = parser.parse_args()
    print(f"N={args.n}, {args.steps} vector steps per round, best of {args.rounds} rounds, threads={min(os.cpu_count() or 1, args.n)}")
    print(f"{'task':28s} {'raw batch':>12s} {'ours':>12s} {'SyncVectorEnv':>14s} {'ours/raw':>9s} {'ours/sync':>10s}")
    for task in args.tasks:
        space = gym.make(task).action_space
        actions = np.random.default_rng(0).uniform(space.low, space.high, (args.steps, args.n, *space.shape)).astype(np.float32)
        times = {"raw": [], "ours": [], "sync": []}
        for _ in range(args.rounds):
            times["raw"].append(raw_batch(task, args.n, actions))
            times["ours"].append(ours(task, args.n, actions))
            times["sync"].append(sync_vector(task, args.n, actions))
        rate = {k: args.steps * args.n / min(v) for k, v in times.items()}
        print(f"{task:28s} {rate['raw']:12,.0f} {rate['ours']:12,.0f} {rate['sync']:14,.0f} "
              f"{rate['ours'] / rate['raw']:9.2f} {rate['ours'] / rate['sync']:10.1f}")


if __name__ == "__main__":
    main()
