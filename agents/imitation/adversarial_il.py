"""Adversarial imitation: ``gail`` (Ho & Ermon 2016) and ``airl`` (Fu, Luo & Levine 2018)
with the ``ppo`` agent as generator.

The generator is the ``ppo`` agent (``agents.sb3_agent.ppo_part``: ``ppo``'s config for
the scenario, its defaults and ``agents/defaults/ppo.yaml``'s entry, with any override of
a PPO key) trained on our VecEnv adapter, wrapped so that the reward it sees is the
discriminator's. After every PPO rollout, the discriminator takes
``disc_updates`` Adam steps separating expert transitions (from ``dataset``)
from the rollout's:

- GAIL: D(s, a) = sigmoid(logit(s, a));
- AIRL: logit = f(s, a, s') - log pi(a|s) with the disentangled
  f = g(s) + gamma * (1 - done) * h(s') - h(s) (g is the recovered reward).

The generator's reward is ``generator_reward: positive`` (default),
``-log(1 - D) = softplus(logit)``, or ``logit``, ``log D - log(1 - D)`` (AIRL's
paper form). A reward that can be negative teaches the generator to end
episodes early on tasks that terminate on failure (the survival bias Kostrikov
et al. 2019 describe): with ``logit``, AIRL on InvertedPendulum learned to drop
the pole at once here, with ``positive`` it imitates.

The discriminator trains on the generator transitions actually stepped, as the
``imitation`` library does: the wrapper that scores them records each
(s, clipped a, s', terminated) of the rollout, with s' the true final
observation at an episode end and a time-limit truncation not terminal, the
same convention as the scoring and the expert data (SB3's rollout buffer holds
the actions before clipping, and its episode starts cannot tell a truncation
from a termination).

Observations are standardized with the expert data's statistics inside the
discriminator. Environment rewards are never used by the learner (they are
still recorded by the harness). The ``imitation`` library cannot be installed
with Gymnasium 1.x / SB3 2.9, hence our own (~200 lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnvWrapper
from torch import nn

from agents.ppo_views import PPOViews
from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, ProgressFn, require_single_agent
from agents.checkpoint import save_meta
from agents.imitation import dataset as demos
from agents.marl.nets import mlp_head
from agents.sb3_agent import PART_KEYS, part_values, ppo_part, ppo_part_defaults
from agents.sb3_vecenv import SB3VecEnv
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {
    "dataset": None, "disc_learning_rate": 3e-4, "disc_updates": 4, "disc_batch_size": 512, "disc_net_arch": [64, 64],
    "generator_reward": "positive",
}
"""GAIL's and AIRL's own fields; the PPO ones (``PART_KEYS``) are the ``ppo`` agent's."""
REWARDS = ("positive", "logit")


class Discriminator(nn.Module):
    """GAIL's D(s, a), or AIRL's reward g(s) and shaping potential h(s)."""

    def __init__(self, obs_dim: int, act_dim: int, widths: list[int], airl: bool, gamma: float) -> None:
        super().__init__()
        self.airl, self.gamma = airl, gamma
        self.register_buffer("mean", torch.zeros(obs_dim))
        self.register_buffer("std", torch.ones(obs_dim))
        if airl:
            self.g = mlp_head(obs_dim, widths, 1, nn.ReLU)
            self.h = mlp_head(obs_dim, widths, 1, nn.ReLU)
        else:
            self.d = mlp_head(obs_dim + act_dim, widths, 1, nn.Tanh)

    def logit(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor, done: torch.Tensor,
              log_pi: torch.Tensor | None) -> torch.Tensor:
        """The discriminator's logit (expert = 1)."""
        s = (obs - self.mean) / self.std
        if not self.airl:
            return self.d(torch.cat([s, act], 1))[:, 0]
        s2 = (next_obs - self.mean) / self.std
        f = self.g(s)[:, 0] + self.gamma * (1 - done) * self.h(s2)[:, 0] - self.h(s)[:, 0]
        return f - (log_pi if log_pi is not None else 0.0)

    def reward(self, logit: torch.Tensor, kind: str) -> torch.Tensor:
        """The generator's reward for a logit: ``positive`` (softplus) or ``logit``."""
        return logit if kind == "logit" else nn.functional.softplus(logit)


class DiscriminatorReward(VecEnvWrapper):
    """Replaces the environment's rewards with the discriminator's."""

    def __init__(self, venv: Any, owner: AdversarialImitation) -> None:
        super().__init__(venv)
        self.owner = owner
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self.transitions: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        """(obs, stepped actions, next obs, terminated) of every step since the last ``take()``."""

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The recorded transitions, stacked over steps and copies, and forget them."""
        rows = self.transitions
        self.transitions = []
        return tuple(np.concatenate([r[k] for r in rows]) for k in range(4))  # type: ignore[return-value]

    def reset(self) -> np.ndarray:
        """Reset and remember the first observations."""
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions."""
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Step, then score (s, a, s') with the discriminator (s' = the terminal observation at episode ends)."""
        obs, env_rew, dones, infos = self.venv.step_wait()
        nxt = obs.copy()
        term = np.zeros(len(obs), np.float32)
        for i, info in enumerate(infos):
            if dones[i]:
                nxt[i] = info["terminal_observation"]
                term[i] = 0.0 if info.get("TimeLimit.truncated", False) else 1.0
        assert self._obs is not None and self._actions is not None
        rew = self.owner.score(self._obs, self._actions, nxt, term)
        self.transitions.append((np.asarray(self._obs).copy(), self._actions.copy(), nxt, term))
        self._obs = obs
        return obs, rew, dones, infos


class _UpdateDiscriminator(BaseCallback):
    """The generator's SB3 callback: a discriminator update at each rollout end."""

    def __init__(self, owner: AdversarialImitation) -> None:
        super().__init__()
        self.owner = owner

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.owner.update_discriminator(self.owner.reward_env.take())


class AdversarialImitation(PPOViews):
    """GAIL or AIRL: a PPO generator against a discriminator of expert transitions."""

    name: ClassVar[str] = "gail"
    airl: ClassVar[bool] = False
    capabilities = Capabilities(multi_agent="single", learning="on-policy")

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """Names accepted by ``agents.make`` and ``--set``: the method's own and every ``PART_KEYS`` name."""
        return set(DEFAULTS) | set(PART_KEYS)

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default (the PPO ones from ``ppo``); its type is the one ``agents.make`` checks values against."""
        return {**ppo_part_defaults(), **DEFAULTS}

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        require_single_agent(self.name, scenario)
        self.scenario, self.seed = scenario, seed
        resolved = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        self.hparams = h = {**DEFAULTS, **{k: v for k, v in resolved.items() if k not in PART_KEYS}}
        if h["generator_reward"] not in REWARDS:
            raise UserError(f"unknown generator_reward '{h['generator_reward']}' (valid: {', '.join(REWARDS)})")
        self.obs_space, self.act_space = scenario.observation_space(AGENT), scenario.action_space(AGENT)
        self.ppo = ppo_part(scenario, self.obs_space, self.act_space, seed, resolved)  # the generator
        h.update(part_values(self.ppo))
        if seed is not None:
            torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.discrete = self.act_space.__class__.__name__ == "Discrete"
        obs_dim = int(np.prod(self.obs_space.shape))
        self.act_dim = int(self.act_space.n) if self.discrete else int(np.prod(self.act_space.shape))
        self.disc = Discriminator(obs_dim, self.act_dim, list(h["disc_net_arch"]), self.airl, h["gamma"])
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=h["disc_learning_rate"])
        self.expert: tuple[torch.Tensor, ...] | None = None
        if h["dataset"]:
            ds = demos.load(h["dataset"], scenario)
            o, a, o2, d = ds.transitions(AGENT)
            self.expert = tuple(torch.as_tensor(np.asarray(x, np.float32)) for x in (o.reshape(len(o), -1), a, o2.reshape(len(o2), -1), d))
            self.disc.mean.copy_(self.expert[0].mean(0))
            self.disc.std.copy_(self.expert[0].std(0) + 1e-6)
        self.reward_env: DiscriminatorReward | None = None
        self.steps_trained = 0
        self.disc_accuracy: list[float] = []

    def _act_features(self, actions: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return nn.functional.one_hot(actions.long().reshape(-1), self.act_dim).float()
        return actions.float().reshape(len(actions), -1)

    def _log_pi(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor | None:
        if not self.airl or self.ppo.model is None:
            return None
        with torch.no_grad():
            _, log_prob, _ = self.ppo.model.policy.evaluate_actions(obs, actions)
        return log_prob

    def score(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Generator rewards for a batch of transitions."""
        o = torch.as_tensor(np.asarray(obs, np.float32).reshape(len(obs), -1))
        a = torch.as_tensor(np.asarray(actions))
        with torch.no_grad():
            logit = self.disc.logit(o, self._act_features(a), torch.as_tensor(np.asarray(next_obs, np.float32).reshape(len(obs), -1)),
                                    torch.as_tensor(done), self._log_pi(o, a))
            return self.disc.reward(logit, self.hparams["generator_reward"]).numpy().astype(np.float32)

    def update_discriminator(self, transitions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Adam steps on binary cross-entropy: expert transitions 1, generator transitions 0.

        ``transitions`` are the rollout's (obs, stepped actions, next obs, terminated), as
        ``DiscriminatorReward.take()`` returns them."""
        h = self.hparams
        assert self.expert is not None
        o, a, o2, d = transitions
        obs = torch.as_tensor(np.asarray(o, np.float32).reshape(len(o), -1))
        acts = torch.as_tensor(np.asarray(a).reshape(len(o), -1))
        nxt = torch.as_tensor(np.asarray(o2, np.float32).reshape(len(o), -1))
        gen_done = torch.as_tensor(np.asarray(d, np.float32))
        n = min(h["disc_batch_size"], len(obs))
        for _ in range(h["disc_updates"]):
            gi = torch.as_tensor(self.rng.integers(0, len(obs), n))
            ei = torch.as_tensor(self.rng.integers(0, len(self.expert[0]), n))
            ga = acts[gi] if not self.discrete else acts[gi].reshape(-1)
            ea = self.expert[1][ei]
            g_logit = self.disc.logit(obs[gi], self._act_features(ga), nxt[gi], gen_done[gi], self._log_pi(obs[gi], ga))
            e_logit = self.disc.logit(self.expert[0][ei], self._act_features(ea), self.expert[2][ei], self.expert[3][ei],
                                      self._log_pi(self.expert[0][ei], ea.reshape(-1) if self.discrete else ea))
            loss = nn.functional.binary_cross_entropy_with_logits(
                torch.cat([e_logit, g_logit]), torch.cat([torch.ones(n), torch.zeros(n)]))
            self.disc_opt.zero_grad()
            loss.backward()
            self.disc_opt.step()
        self.disc_accuracy.append(float(((e_logit > 0).float().mean() + (g_logit < 0).float().mean()) / 2))

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Train the PPO generator for ``steps`` environment steps on discriminator rewards."""
        if self.expert is None:
            raise UserError(f"{self.name} needs demonstrations: --set dataset=PATH (from 'testbed demos record')")
        h = self.hparams
        if self.reward_env is None:  # the first call, or the first after loading
            vec = self.scenario.vector(h["n_envs"], seed=self.seed)
            self.reward_env = DiscriminatorReward(SB3VecEnv(vec), self)
            self.ppo.attach(self.reward_env)
        declare_budget(h, self.steps_trained, steps)
        self.ppo.hparams["total_steps"] = h.get("total_steps")
        self.ppo.learn(steps, progress, callback=_UpdateDiscriminator(self))
        self.steps_trained += steps

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The generator's actions."""
        self._require_trained()
        return {AGENT: np.asarray(self.ppo.act({AGENT: np.asarray(obs[AGENT])}, deterministic=deterministic)[AGENT])}

    def save(self, path: str | Path) -> Path:
        """Write ``model.zip`` (generator), ``discriminator.pt`` and ``agent.json``."""
        if self.ppo.model is None:
            raise UserError(f"{self.name} has nothing to save: call learn() first")
        path = Path(path)
        self.ppo.write_model(path)
        torch.save(self.disc.state_dict(), path / "discriminator.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> AdversarialImitation:
        """Restore generator and discriminator."""
        agent = cls(scenario, seed=meta.get("seed"), **{**meta["hparams"], "dataset": None})
        agent.hparams["dataset"] = meta["hparams"].get("dataset")
        agent.ppo.read_model(path)
        agent.disc.load_state_dict(torch.load(path / "discriminator.pt", weights_only=True))
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


class GAIL(AdversarialImitation):
    """GAIL: PPO generator rewarded by a state-action discriminator."""

    name = "gail"
    airl = False


class AIRL(AdversarialImitation):
    """AIRL: PPO generator against a disentangled reward g(s) + shaping h."""

    name = "airl"
    airl = True


ADVERSARIAL_IL = (GAIL, AIRL)
