"""Layer overhead on mujoco/HalfCheetah-v5: observation noise, action noise and
reset-time mass and friction randomization vs the bare Gymnasium env.

All arms step the same pre-drawn random actions for the same number of steps
(episodes of 1,000 steps, so resets are included), in rounds that alternate
their order (A B C, then C B A, ...) in one process so all see the same
machine state. Reports the median ratio over rounds. The third arm, our
scenario with no layers, separates what the layers cost from what our native
step (``scenarios/sources/mujoco_native.py``) saves over Gymnasium's.

    .venv/bin/python benchmarks/layer_overhead.py [--steps 10000] [--rounds 21]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import scenarios

LAYERS = [
    {"type": "dynamics", "params": {"mode": "reset", "parameters": [
        {"field": "body_mass", "low": 0.5, "high": 1.5},
        {"field": "geom_friction", "low": 0.5, "high": 1.5, "shared": True}]}},
    {"type": "action_gaussian_noise", "params": {"std": 0.1}},
    {"type": "obs_gaussian_noise", "params": {"std": 0.1}},
]


def run_bare(actions: np.ndarray) -> float:
    env = gym.make("HalfCheetah-v5")
    env.reset(seed=0)
    t0 = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return time.perf_counter() - t0


def run_scenario(actions: np.ndarray, layers: list[dict]) -> float:
    spec = scenarios.get_spec("mujoco/HalfCheetah-v5").model_dump() | {"layers": layers}
    sc = scenarios.make(spec, seed=0)
    sc.reset()
    t0 = time.perf_counter()
    for a in actions:
        sc.step({"agent_0": a})
        if not sc.agents:
            sc.reset()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, 6)).astype(np.float32)
    arms = {"bare": run_bare, "layers": lambda a: run_scenario(a, LAYERS), "no layers": lambda a: run_scenario(a, [])}
    for arm in arms.values():  # warm-up
        arm(actions[:1000])
    times: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(args.rounds):
        for name in (list(arms) if r % 2 == 0 else list(arms)[::-1]):
            times[name].append(arms[name](actions))
    t = {k: np.array(v) for k, v in times.items()}
    ratio, own = t["layers"] / t["bare"], t["layers"] / t["no layers"]
    print(f"bare Gymnasium HalfCheetah-v5: {args.steps / np.median(t['bare']):,.0f} steps/s (median of {args.rounds} rounds)")
    print(f"scenario, no layers: {args.steps / np.median(t['no layers']):,.0f} steps/s")
    print(f"scenario with obs noise + action noise + reset-time mass/friction: {args.steps / np.median(t['layers']):,.0f} steps/s")
    print(f"overhead vs bare Gymnasium: median ratio {np.median(ratio):.3f} "
          f"(quartiles {np.percentile(ratio, 25):.3f}-{np.percentile(ratio, 75):.3f})")
    print(f"layers vs our scenario without layers: median ratio {np.median(own):.3f} "
          f"(quartiles {np.percentile(own, 25):.3f}-{np.percentile(own, 75):.3f})")


if __name__ == "__main__":
    main()
