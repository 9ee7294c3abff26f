"""Adversarial training against observation attacks: ``adv_ppo``, PPO trained on
PGD-perturbed observations (Pattanaik et al. 2018; the attack of SA-PPO, Zhang
et al. 2020).

During training each copy's observation is, with probability ``attack_prob``,
replaced by its PGD perturbation against the *current* policy (maximizing the
action-distribution divergence, ``agents.adversarial.attacks``), with a budget
that ramps linearly from 0 to ``attack_eps`` over the first half of training
(SA-PPO's schedule). Budget units are the running per-dimension standard
deviation of the clean observations seen so far. The policy therefore learns
to act well from perturbed inputs; the value bootstrap uses clean terminal
observations. Everything else is SB3's PPO, with its hyperparameters and
``ppo``'s tuned defaults (``agents/defaults/ppo.yaml``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnvWrapper

from agents.adversarial.attacks import gradient_delta
from agents.adversarial.victim import Victim
from agents.base import Capabilities
from agents.sb3_agent import SB3Agent
from agents.sb3_views import sb3_distribution
from agents.sb3_vecenv import SB3VecEnv
from scenarios import UserError

ATTACK_DEFAULTS = {"attack_eps": 0.1, "attack_prob": 0.5, "attack_steps": 5}
"""The training attack where a value is not given (or given as null, "the agent's default")."""
ATTACK_KEYS = set(ATTACK_DEFAULTS)


class PerturbedObservations(VecEnvWrapper):
    """Replaces observations by PGD perturbations against the model being trained."""

    def __init__(self, venv: Any, owner: AdversarialPPO) -> None:
        super().__init__(venv)
        self.owner = owner
        h = owner.hparams
        attack = {k: default if h.get(k) is None else h[k] for k, default in ATTACK_DEFAULTS.items()}
        self.eps, self.prob, self.steps = attack["attack_eps"], attack["attack_prob"], attack["attack_steps"]
        self.rng = np.random.default_rng(owner.seed)
        self.count, self.mean, self.m2 = 0, None, None
        self.seen = 0

    def _track(self, obs: np.ndarray) -> None:
        x = np.asarray(obs, np.float64).reshape(len(obs), -1)
        if self.mean is None:
            self.mean, self.m2 = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        for row in x:  # Welford
            self.count += 1
            d = row - self.mean
            self.mean += d / self.count
            self.m2 += d * (row - self.mean)

    def _perturb(self, obs: np.ndarray) -> np.ndarray:
        self._track(obs)
        model = self.owner.model
        self.seen += len(obs)
        if model is None or self.count < 2:
            return obs
        ramp = min(1.0, self.seen / max(1.0, 0.5 * self.owner.planned_steps))
        eps = self.eps * ramp
        hit = self.rng.random(len(obs)) < self.prob
        if eps <= 0 or not hit.any():
            return obs
        std = np.sqrt(self.m2 / (self.count - 1)) + 1e-8
        bound = torch.as_tensor((eps * std).astype(np.float32))
        gen = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
        rows = np.asarray(obs[hit], np.float32).reshape(int(hit.sum()), -1)
        out = np.array(obs, copy=True)
        victim = Victim(dist=lambda o: sb3_distribution(model, None, o), value=None)  # the policy being trained, as it is now
        delta = gradient_delta(victim, rows, bound, "pgd", self.steps, gen)
        out[hit] = out[hit] + delta.reshape(out[hit].shape).astype(out.dtype)
        return out

    def reset(self) -> np.ndarray:
        """Reset; the first observations may be attacked too."""
        return self._perturb(self.venv.reset())

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Step, then perturb the observations the policy will act on."""
        obs, rew, dones, infos = self.venv.step_wait()
        return self._perturb(obs), rew, dones, infos


class AdversarialPPO(SB3Agent):
    """PPO trained on PGD-attacked observations (adversarial training)."""

    name = "adv_ppo"
    algorithm = PPO
    capabilities = Capabilities(multi_agent="single", learning="on-policy")
    extra_keys = ATTACK_KEYS
    defaults_from = "ppo"  # PPO's tuned settings: without them SB3's 2048-step rollouts leave ~12 updates in 200k steps

    def __init__(self, scenario: Any, seed: int | None = None, **overrides: Any) -> None:
        super().__init__(scenario, seed, **overrides)
        if scenario.num_agents != 1:
            raise UserError(f"{self.name} is single-agent; {scenario.id} has {scenario.num_agents} agents")
        if self.hparams.get("normalize"):
            raise UserError(f"{self.name}: normalize is not supported (the attack budget uses its own running std)")
        self.planned_steps = 1

    def _vecenv(self, vec: Any) -> Any:
        return PerturbedObservations(SB3VecEnv(vec), self)

    def learn(self, steps: int, progress: Any = None) -> None:
        """Train, ramping the attack budget over the first half of the declared budget (``total_steps``,
        default the first call's steps), so a second call continues the ramp instead of restarting it."""
        self.planned_steps = int(self.hparams.get("total_steps") or (self.steps_trained + steps))
        super().learn(steps, progress)
