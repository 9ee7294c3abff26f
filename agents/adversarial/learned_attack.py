"""The learned observation adversary: an RL-trained perturber within the budget (Zhang et al.
2021, "Robust RL on State Observations with Learned Optimal Adversary", the attack ATLA
evaluates against; the SA-PPO code's ``advpolicy``).

For a fixed victim, the state-adversarial MDP's optimal attack is itself an MDP policy:
observe the true state, choose a perturbation, receive the negative of the victim's
reward. This module trains that policy with the ``ppo`` agent (``agents.sb3_agent.ppo_part``:
the learner is ours already; what this module adds is the environment around the frozen victim):

- the adversary observes the clean observations of the targeted agents, each divided
  by its budget std (scale-free), concatenated;
- its action in ``[-1, 1]^d`` is the perturbation in budget units:
  ``delta = clip(action, -1, 1) * eps * std``, so ``|delta_i| <= eps * std_i`` always;
- its reward is the negative team reward (the sum over agents); the victim acts as it
  is evaluated (deterministically unless told), on the perturbed observations.

At evaluation the adversary acts deterministically. The PPO agent takes ``ppo``'s config
for the scenario (its defaults and ``agents/defaults/ppo.yaml``'s entry). Training costs
``steps`` environment steps per (victim, eps).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from agents.sb3_agent import part_values, ppo_part
from agents.sb3_vecenv import ScenarioCopies
from scenarios import Scenario


def perturber_spaces(std: dict[str, np.ndarray], targets: list[str]) -> tuple[spaces.Box, spaces.Box]:
    """The adversary's observation space (the targets' scaled observations, concatenated) and action
    space (the perturbation in budget units, ``[-1, 1]`` per dimension)."""
    d = sum(int(np.asarray(std[a]).size) for a in targets)
    return spaces.Box(-np.inf, np.inf, (d,), np.float32), spaces.Box(-1.0, 1.0, (d,), np.float32)


class PerturberVecEnv(ScenarioCopies, VecEnv):
    """The adversary's SB3 view: clean observations in, perturbations out, minus the victim's reward."""

    def __init__(self, vec: Any, victim: Any, targets: list[str], std: dict[str, np.ndarray], eps: float,
                 deterministic: bool = True) -> None:
        self.vec, self.victim, self.targets, self.deterministic = vec, victim, targets, deterministic
        self.copies = vec.copies
        self.std = {a: np.asarray(std[a], np.float32).ravel() for a in targets}
        self.bound = {a: eps * self.std[a] for a in targets}
        self.sizes = [self.std[a].size for a in targets]
        super().__init__(vec.num_envs, *perturber_spaces(std, targets))
        self.obs: dict[str, np.ndarray] = {}
        self._actions: np.ndarray | None = None

    def features(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The adversary's observation: each targeted agent's observation over its std, concatenated."""
        n = len(np.asarray(obs[self.targets[0]]))
        return np.concatenate([np.asarray(obs[a], np.float32).reshape(n, -1) / self.std[a] for a in self.targets], 1)

    def perturbation(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Per targeted agent, ``clip(action) * eps * std`` (flat rows)."""
        a = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        parts = np.split(a, np.cumsum(self.sizes)[:-1], axis=1)
        return {t: p * self.bound[t] for t, p in zip(self.targets, parts)}

    def reset(self) -> np.ndarray:
        """Reset every copy (seeded when the scenario vector was)."""
        self.obs, _ = self.vec.reset()
        return self.features(self.obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Store the perturbations."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """The victim acts on perturbed observations; the adversary is paid minus the team reward."""
        assert self._actions is not None
        deltas = self.perturbation(self._actions)
        seen = dict(self.obs)
        for t in self.targets:
            x = np.asarray(self.obs[t])
            seen[t] = (x.astype(np.float32) + deltas[t].reshape(x.shape)).astype(x.dtype)
        self.obs, rew, _, _, infos = self.vec.step(self.victim.act(seen, deterministic=self.deterministic))
        team = -np.sum([np.asarray(rew[a], np.float64) for a in self.vec.agents], axis=0)
        dones = np.zeros(self.num_envs, bool)
        out = []
        for i, info in enumerate(infos):
            entry: dict[str, Any] = {}
            if "episode" in info:
                ep = info["episode"]
                dones[i] = True
                entry["terminal_observation"] = self.features({a: info["final_observation"][a][None] for a in self.targets})[0]
                entry["TimeLimit.truncated"] = bool(ep["truncated"] and not ep["terminated"])
                entry["episode"] = {"r": -float(sum(ep["returns"].values())), "l": ep["length"], "t": 0.0}
            out.append(entry)
        return self.features(self.obs), team.astype(np.float32), dones, out

    def close(self) -> None:
        """Close the scenario copies."""
        self.vec.close()


class LearnedPerturber:
    """A PPO-trained observation adversary against one victim at one budget."""

    def __init__(self, victim: Any, scenario: Scenario, targets: list[str], std: dict[str, np.ndarray], eps: float,
                 steps: int = 50_000, seed: int = 0, deterministic: bool = True) -> None:
        self.ppo = ppo_part(scenario, *perturber_spaces(std, targets), seed, {})
        n_envs = int(part_values(self.ppo)["n_envs"])
        self.env = PerturberVecEnv(scenario.vector(n_envs, seed=seed), victim, targets, std, eps, deterministic)
        self.ppo.attach(self.env)
        self.ppo.learn(max(1, int(steps)))
        self.env.close()

    def perturb(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The deterministic adversary's perturbation per targeted agent (flat rows)."""
        assert self.ppo.model is not None
        action, _ = self.ppo.model.predict(self.env.features(obs), deterministic=True)
        return self.env.perturbation(action)
