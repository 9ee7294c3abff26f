"""PPO wall time per 100k environment steps at the same hyperparameters: ``fast_ppo`` vs the
SB3-backed ``ppo``, both on the batched face, one torch thread, in one process, alternating
(SB3 first, then ours, per task). ``--profile`` also prints where SB3's time goes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_walltime.py [--steps 20480] [--profile]

Target (issue #17): >= 3x on Hopper and HalfCheetah.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import agents

TASKS = ("mujoco/Hopper-v5", "mujoco/HalfCheetah-v5")


def seconds(name: str, sid: str, steps: int) -> float:
    """Wall seconds of ``learn(steps)`` for a fresh agent (building it excluded)."""
    agent = agents.make(name, sid, seed=0)
    t0 = time.perf_counter()
    agent.learn(steps)
    return time.perf_counter() - t0


def profile(sid: str, steps: int) -> None:
    """The top of a cProfile of SB3 PPO learning ``steps`` steps, by cumulative and own time."""
    agent = agents.make("ppo", sid, seed=0)
    prof = cProfile.Profile()
    prof.enable()
    agent.learn(steps)
    prof.disable()
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(18)
        print(buf.getvalue()[-4000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20480)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profile(TASKS[0], args.steps)
    print(f"{'task':24s} {'SB3 ppo (s/100k)':>17s} {'fast_ppo (s/100k)':>18s} {'speed-up':>9s}")
    for sid in TASKS:
        sb3 = seconds("ppo", sid, args.steps) * 100_000 / args.steps
        ours = seconds("fast_ppo", sid, args.steps) * 100_000 / args.steps
        print(f"{sid:24s} {sb3:17.1f} {ours:18.1f} {sb3 / ours:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
