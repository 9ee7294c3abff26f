"""Gradient updates per second: our DQN core vs SB3's DQN, same network (64x64 MLP),
batch size 64, CartPole-v1 transitions in the buffer, one torch thread, in one process.
Both variants of ours are timed: vanilla (as SB3's DQN) and rainbow's
(double + dueling + prioritized + 3-step).

    .venv/bin/python benchmarks/dqn_updates.py [--updates 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from stable_baselines3 import DQN

import scenarios
from agents.dqn import QAgent
from agents.sb3_agent import SB3VecEnv

FILL = 10_000


def ours(updates: int, **flags: object) -> float:
    agent = QAgent(scenarios.make("classic/CartPole-v1"), seed=0, learning_starts=10**9, net_arch=[64, 64],
                   batch_size=64, **flags)
    agent.learn(FILL)
    t0 = time.perf_counter()
    for _ in range(updates):
        agent.update(agent.buffer, 0.4)
    return updates / (time.perf_counter() - t0)


def sb3(updates: int) -> float:
    venv = SB3VecEnv(scenarios.make("classic/CartPole-v1").vector(1, seed=0))
    model = DQN("MlpPolicy", venv, learning_starts=FILL + 1, batch_size=64, policy_kwargs={"net_arch": [64, 64]},
                seed=0, device="cpu", verbose=0)
    model.learn(FILL)
    t0 = time.perf_counter()
    model.train(gradient_steps=updates, batch_size=64)
    return updates / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rates: dict[str, list[float]] = {"SB3 DQN": [], "ours (vanilla)": [], "ours (rainbow flags)": []}
    for _ in range(args.rounds):
        rates["SB3 DQN"].append(sb3(args.updates))
        rates["ours (vanilla)"].append(ours(args.updates))
        rates["ours (rainbow flags)"].append(ours(args.updates, double=True, dueling=True, prioritized=True, n_step=3))
    base = max(rates["SB3 DQN"])
    for name, r in rates.items():
        print(f"{name:22s} {max(r):8.0f} updates/s (best of {args.rounds})  {max(r) / base:.2f}x SB3")


if __name__ == "__main__":
    main()
