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
observations. Everything else is the ``ppo`` agent itself (``PPOAgent.part``: every
``ppo`` hyperparameter under its name, ``ppo``'s defaults and ``agents/defaults/ppo.yaml``'s
entry for the scenario), trained on the attacked copies of the scenario.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnvWrapper

from agents.ppo_views import PPOViews
from agents import hyperparams
from agents.budget import declare_budget
from agents.adversarial.attacks import gradient_delta
from agents.adversarial.victim import Victim
from agents.base import Capabilities, ProgressFn, require_single_agent
from agents.checkpoint import save_meta
from agents.observations import accepts_unbatched
from agents.sb3_agent import PPOAgent
from agents.sb3_views import sb3_distribution
from agents.sb3_vecenv import SB3VecEnv
from scenarios import Scenario, UserError

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
        model = self.owner.ppo.model
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


class AdversarialPPO(PPOViews):
    """PPO trained on PGD-attacked observations (adversarial training)."""

    name: ClassVar[str] = "adv_ppo"
    capabilities = Capabilities(multi_agent="single", learning="on-policy")

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """Names accepted by ``agents.make`` and ``--set``: every ``ppo`` hyperparameter and the attack's."""
        return PPOAgent.valid_hyperparameters() | ATTACK_KEYS

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """``ppo``'s defaults and the attack's (``None``: 0.1, 0.5 and 5, as ``PerturbedObservations`` reads them)."""
        return {**PPOAgent.default_hyperparameters(), **{k: None for k in sorted(ATTACK_KEYS)}}

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario without one agent of Box observations (``check_fits`` runs it)."""
        require_single_agent(cls.name, scenario)
        agent = scenario.possible_agents[0]
        if not isinstance(scenario.observation_space(agent), spaces.Box):  # PGD's gradient needs real-valued inputs
            raise UserError(f"{cls.name} trains on PGD-perturbed observations, which must be a Box; {scenario.id} {agent} "
                            f"has {scenario.observation_space(agent)} (valid: a task with Box observations, or ppo)")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.check_scenario(scenario, overrides)
        agent = scenario.possible_agents[0]
        self.scenario, self.seed = scenario, seed
        resolved = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters())
        self.ppo = PPOAgent.part(scenario, scenario.observation_space(agent), scenario.action_space(agent), seed,
                                 **{k: v for k, v in resolved.items() if k not in ATTACK_KEYS})
        if self.ppo.hparams.get("normalize"):
            raise UserError(f"{self.name}: normalize is not supported (the attack budget uses its own running std)")
        self.hparams = {**self.ppo.hparams, **{k: v for k, v in resolved.items() if k in ATTACK_KEYS}}
        self.history = self.ppo.history
        """The PPO agent's training curve rows."""
        self.steps_trained = 0
        self.planned_steps = 1

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Train, ramping the attack budget over the first half of the declared budget (``total_steps``,
        default the first call's steps), so a second call continues the ramp instead of restarting it."""
        h = self.hparams
        self.planned_steps = declare_budget(h, self.steps_trained, steps)
        self.ppo.hparams["total_steps"] = h.get("total_steps")
        if self.ppo.model is None or self.ppo.model.get_env() is None:  # the first call, or the first after loading
            ppo = self.ppo.hparams
            vec = self.scenario.vector(int(ppo.get("n_envs", 8)), seed=self.seed, backend=ppo.get("backend", "auto"))
            self.ppo.attach(PerturbedObservations(SB3VecEnv(vec), self))
        self.ppo.learn(steps, progress)
        self.steps_trained += steps

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The PPO policy's actions on clean observations."""
        self._require_trained()
        return self.ppo.act(obs, deterministic=deterministic)

    def save(self, path: str | Path) -> Path:
        """Write ``model.zip`` and ``agent.json``."""
        if self.ppo.model is None:
            raise UserError(f"{self.name} has nothing to save: call learn() first")
        path = Path(path)
        self.ppo.write_model(path)
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> AdversarialPPO:
        """Restore the policy."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.ppo.read_model(path)
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
