"""PPO wall time per 100k environment steps on HalfCheetah-v5: our PPO agent on the
batched backend vs SB3's PPO on SubprocVecEnv (and DummyVecEnv), same
hyperparameters (agents/defaults/ppo.yaml: 8 envs, n_steps 256, batch 64,
10 epochs), one torch thread, run one after the other in one process.

    .venv/bin/python benchmarks/ppo_walltime.py [--steps 100000]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import agents
from agents.hyperparams import tuned_defaults

TASK = "HalfCheetah-v5"


def sb3(vec_cls: type, steps: int) -> float:
    hp = tuned_defaults("ppo", f"mujoco/{TASK}")
    n = hp.pop("n_envs")
    venv = vec_cls([lambda: gym.make(TASK) for _ in range(n)])
    model = PPO("MlpPolicy", venv, seed=0, device="cpu", verbose=0, **hp)
    t0 = time.perf_counter()
    model.learn(steps)
    out = time.perf_counter() - t0
    venv.close()
    return out


def ours(steps: int) -> float:
    ag = agents.make("ppo", f"mujoco/{TASK}", seed=0)
    t0 = time.perf_counter()
    ag.learn(steps)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {"ours (batched backend)": ours(args.steps), "SB3 + SubprocVecEnv": sb3(SubprocVecEnv, args.steps),
               "SB3 + DummyVecEnv": sb3(DummyVecEnv, args.steps)}
    base = results["ours (batched backend)"]
    for name, secs in results.items():
        print(f"{name:24s} {secs:7.1f} s per {args.steps:,} steps  ({secs / base:.2f}x ours)")


if __name__ == "__main__":
    main()
