"""Layer overhead on mujoco/HalfCheetah-v5: observation noise, action noise and
reset-time mass and friction randomization vs the bare Gymnasium env.

Both step the same pre-drawn random actions for the same number of steps
(episodes of 1,000 steps, so resets are included), alternating A/B rounds in
one process so both see the same machine state. Reports the median ratio.

    .venv/bin/python benchmarks/layer_overhead.py [--steps 20000] [--rounds 7]
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


def run_layers(actions: np.ndarray) -> float:
    spec = scenarios.get_spec("mujoco/HalfCheetah-v5").model_dump() | {"layers": LAYERS}
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
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    actions = np.random.default_rng(0).uniform(-1, 1, (args.steps, 6)).astype(np.float32)
    run_bare(actions[:1000]), run_layers(actions[:1000])  # warm-up
    bare, ours = [], []
    for _ in range(args.rounds):
        bare.append(run_bare(actions))
        ours.append(run_layers(actions))
    ratios = np.array(ours) / np.array(bare)
    print(f"bare Gymnasium HalfCheetah-v5: {args.steps / np.median(bare):,.0f} steps/s (median of {args.rounds})")
    print(f"with obs noise + action noise + reset-time mass/friction: {args.steps / np.median(ours):,.0f} steps/s")
    print(f"overhead: median ratio {np.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
