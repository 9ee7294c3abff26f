"""MAPPO's training throughput vs stepping the same vectorized scenario with random actions.

Both run in one process, one after the other, on the same machine: N copies of
``mpe/simple_spread-v3`` (3 agents), first stepped with the random policy's
batched actions (no learning), then trained with MAPPO (rollouts + updates) for
the same number of environment steps. Throughput counts environment steps (one
step of all copies = N steps) per second. Target: MAPPO >= 50% of random (issue #18
asks >= 30% on the batched particle worlds). For the PPO
learners the training time is also split into the updates (``_update``) and the rest
(rollouts: acting, critic values, stepping), and the rollout alone is given as a rate.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/marl_throughput.py --envs 16 --steps 40000
"""

from __future__ import annotations

import argparse
import time

import torch

import agents
import scenarios
from agents.hyperparams import parse_assignments


def random_rate(scenario: str, n: int, steps: int) -> float:
    """Environment steps per second with random batched actions."""
    sc = scenarios.make(scenario)
    vec = sc.vector(n, seed=0)
    policy = agents.make("random", sc, seed=0)
    obs, _ = vec.reset()
    t0, done = time.perf_counter(), 0
    while done < steps:
        obs, *_ = vec.step(policy.act(obs))
        done += n
    return done / (time.perf_counter() - t0)


def mappo_rate(scenario: str, n: int, steps: int, method: str, overrides: dict | None = None) -> tuple[float, float]:
    """Environment steps per second while training (rollouts and updates), and the seconds spent
    in updates (0 where the learner has no ``_update``); ``overrides``: other hyperparameters."""
    ag = agents.make(method, scenario, seed=0, n_envs=n, **(overrides or {}))
    spent = [0.0]
    update = getattr(ag, "_update", None)
    if update is not None:
        def timed(*args: object, **kwargs: object) -> None:
            t = time.perf_counter()
            update(*args, **kwargs)
            spent[0] += time.perf_counter() - t
        ag._update = timed
    t0 = time.perf_counter()
    ag.learn(steps)
    return steps / (time.perf_counter() - t0), spent[0]


def main() -> None:
    """Print both rates and their ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="mpe/simple_spread-v3")
    p.add_argument("--envs", type=int, default=16)
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--method", default="mappo")
    p.add_argument("--set", nargs="*", default=[], help="other hyperparameters KEY=VALUE (e.g. epochs=5)")
    args = p.parse_args()
    torch.set_num_threads(1)
    rnd = random_rate(args.scenario, args.envs, args.steps)
    overrides = parse_assignments(args.set)
    ours, in_updates = mappo_rate(args.scenario, args.envs, args.steps, args.method, overrides)
    print(f"{args.scenario}, {args.envs} copies, {args.steps} steps{''.join(f', {k}={v}' for k, v in overrides.items())}: random {rnd:.0f} steps/s, "
          f"{args.method} training {ours:.0f} steps/s, ratio {ours / rnd:.2f}")
    if in_updates:
        total = args.steps / ours
        print(f"  updates {in_updates:.2f} s of {total:.2f} s ({in_updates / total:.0%}); rollouts alone "
              f"{args.steps / (total - in_updates):.0f} steps/s ({args.steps / (total - in_updates) / rnd:.2f} of random)")


if __name__ == "__main__":
    main()
