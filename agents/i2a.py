"""``i2a``: imagination-augmented agents (Weber et al. 2017) trained with A2C, on scenarios with
vector observations and discrete actions (CartPole, Acrobot...).

The networks are ``agents.imagination``'s: a model-free path beside rollout encodings of one
imagined rollout per action, each imagined through the learned dynamics ensemble and a
distilled rollout policy. Training is synchronous advantage actor-critic on ``n_envs`` copies:
rollouts of ``n_steps`` steps, GAE(``gae_lambda``; 1: n-step returns) advantages,
``-log pi * A + vf_coef * (R - V)^2 - ent_coef * H``, plus ``distill_coef`` times the rollout
policy's cross-entropy to the agent's policy, one Adam step with the gradient norm clipped.
Time-limit truncations bootstrap (the value of the final observation is folded into the reward
of the truncated step). The dynamics model learns from all real transitions: refitted every
``round_steps`` environment steps from ``learning_starts`` on (losses and held-out errors in
``history``); before the first fit the imagination reads an untrained model. ``imagination:
false`` trains the model-free path alone with the same settings (and fits no model): the
ablation of the paper.
``learn(k); learn(k)`` equals ``learn(2k)`` (in whole rollouts of ``n_steps x n_envs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents import hyperparams
from agents.advantages import gae
from agents.base import Capabilities, ProgressFn, require_single_agent, TableHyperparameters
from agents.checkpoint import save_meta
from agents.imagination import I2ANet
from agents.model_based import MODEL_DEFAULTS, build_model, fit_and_log, load_model, save_model
from agents.observations import accepts_unbatched
from agents.transitions import Transitions
from scenarios import Scenario, UserError

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {
    "imagination": True, "imagination_depth": 3, "encoder_size": 16, "net_arch": [64, 64], "n_envs": 8, "n_steps": 16,
    "learning_rate": 1e-3, "gamma": 0.99, "gae_lambda": 1.0, "ent_coef": 0.01, "vf_coef": 0.5, "distill_coef": 1.0,
    "max_grad_norm": 0.5, "learning_starts": 1000, "round_steps": 2000, "torch_threads": 1,
    **MODEL_DEFAULTS, "model_arch": [64, 64], "model_updates": 300,
}


class I2A(TableHyperparameters):
    """Imagination-augmented actor-critic (A2C) with a learned environment model."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "i2a"
    capabilities = Capabilities(continuous_actions=False, multi_agent="single", learning="on-policy")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.check_scenario(scenario, {})
        act_space, obs_space = scenario.action_space(AGENT), scenario.observation_space(AGENT)
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        h = self.hparams
        torch.set_num_threads(h["torch_threads"])
        self.obs_dim, self.n_actions = int(np.prod(obs_space.shape)), int(act_space.n)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(int(self.rng.integers(2**31)))  # the initial weights
        self.net = I2ANet(self.obs_dim, self.n_actions, list(h["net_arch"]), h["encoder_size"],
                          h["imagination_depth"], h["imagination"])
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=h["learning_rate"])
        self.model = build_model(h, self.obs_dim, self.n_actions, int(self.rng.integers(2**31)))
        self.gen = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        self.act_gen = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        self.data = Transitions(self.obs_dim, self.n_actions, stride=h["n_envs"])
        self.history: list[dict[str, float]] = []
        self.steps_trained = 0
        self._vec: Any = None
        self._obs: np.ndarray | None = None

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario other than one agent with vector observations and discrete actions."""
        require_single_agent(cls.name, scenario)
        act_space, obs_space = scenario.action_space(AGENT), scenario.observation_space(AGENT)
        if not isinstance(act_space, spaces.Discrete) or not isinstance(obs_space, spaces.Box):
            raise UserError(f"{cls.name} needs vector observations and discrete actions; {scenario.id} has "
                            f"{obs_space} / {act_space}")

    # ----- acting -----------------------------------------------------------------------------------
    def _rows(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, np.float32) if not isinstance(obs, torch.Tensor) else obs).reshape(len(obs), -1).float()

    def _sample(self, logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return torch.multinomial(torch.softmax(logits, dim=1), 1, generator=gen)[:, 0]

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The most likely action (deterministic) or a sample of the policy."""
        with torch.no_grad():
            logits, _ = self.net(self._rows(obs[AGENT]), self.model)
        a = logits.argmax(dim=1) if deterministic else self._sample(logits, self.act_gen)
        return {AGENT: a.numpy()}

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The policy's Categorical at raw observations (differentiable through the model-free path and
        the encoder; the imagined trajectories themselves are data)."""
        return torch.distributions.Categorical(logits=self.net(self._rows(obs), self.model)[0])

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The value head at raw observations."""
        return self.net(self._rows(obs), self.model)[1]

    # ----- learning ---------------------------------------------------------------------------------
    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """A2C on rollouts of ``n_steps`` x ``n_envs`` steps, refitting the model every ``round_steps``."""
        h = self.hparams
        n, horizon = h["n_envs"], h["n_steps"]
        if self._vec is None:
            self._vec = self.scenario.vector(n, seed=self.seed)
            self._obs = self._vec.reset()[0][AGENT]
        done = 0
        while done < steps:
            self._rollout_and_update(n, horizon)
            done += n * horizon
            if progress:
                progress(min(done, steps), steps)
        self.steps_trained += done

    def _rollout_and_update(self, n: int, horizon: int) -> None:
        h = self.hparams
        gamma, eye = h["gamma"], np.eye(self.n_actions, dtype=np.float32)
        obs_b, act_b, rew_b, end_b, term_b = [], [], [], [], []
        o = self._obs
        for _ in range(horizon):
            with torch.no_grad():
                logits, _ = self.net(self._rows(o), self.model)
            a = self._sample(logits, self.gen).numpy()
            obs, rew, term, trunc, infos = self._vec.step({AGENT: a})
            nxt, r = obs[AGENT], rew[AGENT].astype(np.float32).copy()
            ended = term[AGENT] | trunc[AGENT]
            final = nxt.copy()
            for i in np.flatnonzero(ended):
                final[i] = infos[i]["final_observation"][AGENT]
            cut = np.flatnonzero(trunc[AGENT] & ~term[AGENT])
            if len(cut):  # bootstrap through the time limit
                with torch.no_grad():
                    r[cut] += gamma * self.net(self._rows(final[cut]), self.model)[1].numpy()
            self.data.add(o.reshape(n, -1), eye[a], rew[AGENT], final.reshape(n, -1), term[AGENT], ended)
            obs_b.append(o)
            act_b.append(a)
            rew_b.append(r)
            end_b.append(ended)
            o = nxt
            before = len(self.data) - n  # environment steps before this one (one row each, never dropped)
            after = before + n
            if (self.net.imagination and after >= h["learning_starts"]
                    and after // h["round_steps"] > before // h["round_steps"]):
                fit_and_log(self.model, self.data, h["model_updates"], self.rng, self.history, after)
        self._obs = o
        x = self._rows(np.concatenate(obs_b))
        logits, values = self.net(x, self.model)
        with torch.no_grad():
            last = self.net(self._rows(o), self.model)[1].numpy()
        v = values.detach().numpy().reshape(horizon, n)
        adv = gae(np.asarray(rew_b, np.float32), v, last, np.asarray(end_b, np.float32), gamma, h["gae_lambda"])
        adv_t = torch.as_tensor(adv.reshape(-1))
        returns = adv_t + values.detach()
        dist = torch.distributions.Categorical(logits=logits)
        actions = torch.as_tensor(np.concatenate(act_b))
        loss = (-(dist.log_prob(actions) * adv_t).mean() + h["vf_coef"] * ((returns - values) ** 2).mean()
                - h["ent_coef"] * dist.entropy().mean())
        if self.net.imagination:  # distil the policy into the rollout policy
            target = torch.softmax(logits.detach(), dim=1)
            loss = loss - h["distill_coef"] * (target * torch.log_softmax(self.net.rollout_policy(x), dim=1)).sum(1).mean()
        self.optimizer.zero_grad()
        loss.backward()
        if h["max_grad_norm"] is not None:  # null: no clipping
            nn.utils.clip_grad_norm_(self.net.parameters(), h["max_grad_norm"])
        self.optimizer.step()

    # ----- checkpoints ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``i2a.pt`` (network and optimizer state dicts), ``model.pt``, ``data.npz`` and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}, path / "i2a.pt")
        save_model(path, self.model, self.data)
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> I2A:
        """Restore the networks, the model and the real data."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        state = torch.load(path / "i2a.pt", weights_only=True)
        agent.net.load_state_dict(state["net"])
        agent.optimizer.load_state_dict(state["optimizer"])
        agent.data, _ = load_model(path, agent.model)
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
