"""Seconds per SAC gradient update at Hopper-v5's sizes, three implementations in one process:
the torch ``agents.sac_core`` that ``mbpo`` and ``mbve`` train (timed through ``mbpo``'s
``train_step`` on real rows only, replay sampling included), ``fast_sac``'s NumPy update, and
SB3's ``SAC.train``. All at 256 x 256 networks, batch 256, one torch thread, the replay filled
with 2,000 random Hopper steps; the best of ``--rounds`` rounds of ``--updates`` updates each.
This is what bounds the model-based agents' wall time (``mbpo`` makes ``gradient_steps`` of them
per real step).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sac_updates.py [--updates 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from stable_baselines3 import SAC

import agents
import scenarios
from agents.sb3_agent import SB3VecEnv

TASK, FILL = "mujoco/Hopper-v5", 2_000


def best(step: Callable[[], None], updates: int, rounds: int) -> float:
    """The fastest of ``rounds`` timings of ``updates`` calls, seconds per call."""
    step()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(updates):
            step()
        times.append((time.perf_counter() - t0) / updates)
    return min(times)


def main() -> None:
    """Time the three updates and print milliseconds per update and the ratios to SB3's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    mbpo = agents.make("mbpo", TASK, seed=0, learning_starts=10**9, net_arch=[256, 256], batch_size=256)
    mbpo.learn(FILL)  # random steps only: the imagined set is empty, so train_step samples real rows
    fast = agents.make("fast_sac", TASK, seed=0, learning_starts=10**9)
    fast.learn(FILL)
    counter = iter(range(1, 10**9))
    venv = SB3VecEnv(scenarios.make(TASK).vector(1, seed=0))
    sb3 = SAC("MlpPolicy", venv, learning_starts=FILL + 1, batch_size=256, policy_kwargs={"net_arch": [256, 256]},
              seed=0, device="cpu", verbose=0)
    sb3.learn(FILL)
    timed = {
        "sac_core (mbpo, mbve)": best(mbpo.train_step, args.updates, args.rounds),
        "fast_sac": best(lambda: fast._update(next(counter)), args.updates, args.rounds),
        "SB3 SAC.train": best(lambda: sb3.train(gradient_steps=1, batch_size=256), args.updates, args.rounds),
    }
    for name, s in timed.items():
        print(f"{name:22s} {s * 1e3:6.2f} ms/update  {timed['SB3 SAC.train'] / s:4.2f}x SB3's")


if __name__ == "__main__":
    main()
