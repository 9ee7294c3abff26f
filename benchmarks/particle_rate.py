"""Team steps per second of the batched particle backend against mpe2 stepped in a loop, side by side
in one process: random actions, resets included (mpe2: ``parallel_env.step`` and ``reset`` when the
episode ends, as a user's loop runs it; ours: ``scenario.vector(N).step`` with autoreset).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/particle_rate.py [--seconds 5] [--scenario mpe/simple_spread-v3]

Target (issue: batched particle worlds): >= 100x mpe2 at N = 1024 on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

import scenarios


def mpe2_rate(source: str, seconds: float) -> float:
    """Team steps per second of mpe2's parallel env in a plain loop."""
    env = importlib.import_module(source.partition(":")[2]).parallel_env(max_cycles=25)
    env.reset(seed=0)
    spaces = {a: env.action_space(a) for a in env.possible_agents}
    rng = np.random.default_rng(0)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step({a: int(rng.integers(spaces[a].n)) for a in env.agents})
        steps += 1
        if not env.agents:
            env.reset()
    return steps / (time.perf_counter() - t0)


def batch_rate(sid: str, n: int, seconds: float) -> float:
    """Team steps per second (copies x vector steps) of the batched face with N copies."""
    vec = scenarios.make(sid).vector(n, seed=0, backend="batch")
    vec.reset()
    rng = np.random.default_rng(0)
    acts = [{a: rng.integers(0, vec.action_spaces[a].n, n) for a in vec.agents} for _ in range(16)]
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        vec.step(acts[steps % 16])
        steps += 1
    return steps * n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--scenario", default="mpe/simple_spread-v3")
    args = parser.parse_args()
    source = scenarios.make(args.scenario).spec.source
    ref = mpe2_rate(source, args.seconds)
    print(f"{args.scenario}: mpe2 loop {ref:,.0f} team steps/s")
    print(f"{'N':>6s} {'batched (team steps/s)':>24s} {'x mpe2':>8s}")
    for n in (1, 64, 1024, 4096):
        rate = batch_rate(args.scenario, n, args.seconds)
        print(f"{n:6d} {rate:24,.0f} {rate / ref:7.1f}x", flush=True)


if __name__ == "__main__":
    main()
