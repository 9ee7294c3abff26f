"""MPPI planning rate: physics steps per second inside MPPI's candidate rollouts vs raw
``mujoco.rollout`` of the same batch on the same threads (target >= 80%), planning
iterations per second, and the real-time factor (simulated seconds controlled per
wall-clock second) for InvertedPendulum, Hopper and HalfCheetah, one copy.

    .venv/bin/python benchmarks/mppi_rate.py [--iterations 30]
"""

from __future__ import annotations

import argparse
import time

import mujoco
import numpy as np
from mujoco import rollout as mjrollout

import agents
import scenarios

TASKS = ("InvertedPendulum-v5", "Hopper-v5", "HalfCheetah-v5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    print(f"{'task':22s} {'raw rollout':>14s} {'MPPI rollouts':>14s} {'ratio':>6s} {'plans/s':>8s} {'real-time x':>11s}  (K x H)")
    for task in TASKS:
        sc = scenarios.make(f"mujoco/{task}")
        mppi = agents.make("mppi", sc, seed=0)
        vec = sc.vector(1, seed=0, backend="gymnasium")
        obs, _ = vec.reset()
        k, h, fs = int(mppi.hparams["samples"]), int(mppi.hparams["horizon"]), mppi.frame_skip
        states = vec.physics_state()
        mppi.act(obs, states=states)  # warm-up
        mppi.physics_steps = 0
        t0 = time.perf_counter()
        for _ in range(args.iterations):
            action = mppi.act(obs, states=vec.physics_state())
            obs, *_ = vec.step(action)
            if vec.done.any() or not vec.copies[0].agents:
                obs, _ = vec.reset()
        wall = time.perf_counter() - t0
        mppi_rate = mppi.physics_steps / wall
        # raw: the same rollout batch, repeated, no scoring or sampling
        datas = [mujoco.MjData(mppi.model) for _ in range(2)]
        controls = np.zeros((k, h * fs, mppi.model.nu))
        init = np.repeat(states, k, axis=0)
        with mjrollout.Rollout(nthread=2) as pool:
            pool.rollout(mppi.model, datas, init, controls)
            t1 = time.perf_counter()
            for _ in range(args.iterations):
                pool.rollout(mppi.model, datas, init, controls)
            raw_rate = args.iterations * k * h * fs / (time.perf_counter() - t1)
        dt = mppi.model.opt.timestep * fs
        plans = args.iterations / wall
        print(f"{task:22s} {raw_rate:14,.0f} {mppi_rate:14,.0f} {mppi_rate / raw_rate:6.2f} {plans:8.1f} {plans * dt:11.2f}  ({k} x {h})")


if __name__ == "__main__":
    main()
