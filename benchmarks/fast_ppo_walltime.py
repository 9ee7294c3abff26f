"""PPO (or SAC) wall time per 100k environment steps at the same hyperparameters: ``fast_ppo`` vs
the SB3-backed ``ppo`` (``fast_sac`` vs ``sac`` with ``--algo sac``), both on the batched face, one
torch thread, in one process, alternating (SB3 first, then ours, per task). For SAC the
``learning_starts`` steps of random actions run first, untimed, so the figure is the learning
phase's. ``--profile`` also prints where SB3's time goes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_walltime.py [--steps 20480] [--profile]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fast_ppo_walltime.py --algo sac --steps 3000 [--profile]

Target (issue #17): >= 3x on Hopper and HalfCheetah (PPO), Hopper and Pendulum (SAC).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import agents

TASKS = {"ppo": ("mujoco/Hopper-v5", "mujoco/HalfCheetah-v5"), "sac": ("mujoco/Hopper-v5", "classic/Pendulum-v1")}


def _agent(name: str, sid: str) -> agents.Agent:
    """A fresh agent, past its random-action warm-up (``learning_starts``) if it has one."""
    agent = agents.make(name, sid, seed=0)
    warmup = int(agent.hparams.get("learning_starts") or 0)
    if warmup:
        agent.learn(warmup + 1)
    return agent


def seconds(name: str, sid: str, steps: int) -> float:
    """Wall seconds of ``learn(steps)`` for a fresh agent (building it and its warm-up excluded)."""
    agent = _agent(name, sid)
    t0 = time.perf_counter()
    agent.learn(steps)
    return time.perf_counter() - t0


def profile(name: str, sid: str, steps: int) -> None:
    """The top of a cProfile of ``name`` learning ``steps`` steps, by cumulative and own time."""
    agent = _agent(name, sid)
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
    parser.add_argument("--algo", choices=sorted(TASKS), default="ppo")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    algo, fast = args.algo, f"fast_{args.algo}"
    if args.profile:
        profile(algo, TASKS[algo][0], args.steps)
    print(f"{'task':24s} {f'SB3 {algo} (s/100k)':>17s} {f'{fast} (s/100k)':>18s} {'speed-up':>9s}")
    for sid in TASKS[algo]:
        sb3 = seconds(algo, sid, args.steps) * 100_000 / args.steps
        ours = seconds(fast, sid, args.steps) * 100_000 / args.steps
        print(f"{sid:24s} {sb3:17.1f} {ours:18.1f} {sb3 / ours:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
