"""What ``mbpo`` and ``mbve`` share: a SAC actor-critic (``agents.sac_core``) acting in the real
scenario, a learned dynamics ensemble refitted on the real data in rounds, and the checkpoint.

The loop, one real step at a time on one scenario copy: uniform random actions for
``learning_starts`` steps, then the actor's samples; every ``round_steps`` steps (from
``learning_starts`` on) the model is refitted on all real data (its losses and held-out errors
are rows of ``history``) and ``after_fit`` runs (MBPO branches its model rollouts there); once
ready, ``gradient_steps`` updates (``train_step``, the method's own) follow every real step.
Actions are stored and modelled in [-1, 1] and scaled to the bounds when stepped. Time-limit
truncations are not terminations. ``learn(k); learn(k)`` equals ``learn(2k)``. ``termination``
(``agents.model_based.resolve_termination``) picks the learned head or the task's known function
of the observations for the model's rollouts (the function is given actions in [-1, 1]; none of
``scenarios.termination``'s reads them); ``reward`` (``resolve_reward``) likewise the learned
reward or the task's known one (``model_reward``: given the actions scaled to the bounds, since
control costs read them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from agents import hyperparams
from agents.base import Capabilities, ProgressFn, TableHyperparameters, require_box_agent
from agents.checkpoint import save_meta
from agents.model_based import (MODEL_DEFAULTS, build_model, fit_and_log, known, load_model, resolve_reward,
                                resolve_termination, save_model)
from agents.observations import accepts_unbatched
from agents.sac_core import SACCore
from agents.sb3_views import DETERMINISTIC_STD
from agents.transitions import Transitions
from scenarios import Scenario

AGENT = "agent_0"
AC_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-4, "gamma": 0.99, "tau": 0.005, "net_arch": [256, 256], "batch_size": 256,
    "learning_starts": 1000, "round_steps": 250, "gradient_steps": 1, "torch_threads": 1, "termination": "learned",
    "reward": "learned",
    **MODEL_DEFAULTS,
}


class ModelActorCritic(TableHyperparameters):
    """Real collection, model refits in rounds and SAC acting; subclasses define ``train_step``."""

    name: ClassVar[str]
    DEFAULTS: ClassVar[dict[str, Any]] = AC_DEFAULTS
    capabilities = Capabilities(discrete_actions=False, multi_agent="single", learning="off-policy")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        require_box_agent(self.name, scenario)
        act_space, obs_space = scenario.action_space(AGENT), scenario.observation_space(AGENT)
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                           self.DEFAULTS)
        h = self.hparams
        self.termination_fn = resolve_termination(self.name, scenario, h["termination"])
        self.reward_fn = resolve_reward(self.name, scenario, h["reward"])
        torch.set_num_threads(h["torch_threads"])
        self.obs_dim, self.act_dim = int(np.prod(obs_space.shape)), int(np.prod(act_space.shape))
        self.low, self.high = act_space.low.astype(np.float32), act_space.high.astype(np.float32)
        self.rng = np.random.default_rng(seed)
        self.sac = SACCore(self.obs_dim, self.act_dim, list(h["net_arch"]), h["learning_rate"], h["gamma"],
                           h["tau"], seed=int(self.rng.integers(2**31)))
        self.model = build_model(h, self.obs_dim, self.act_dim, int(self.rng.integers(2**31)))
        self.gen = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        self.act_gen = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        self.data = Transitions(self.obs_dim, self.act_dim)
        self.history: list[dict[str, float]] = []
        self.fitted = False
        self.steps_trained = 0
        self.updates = 0
        self._vec: Any = None
        self._obs: np.ndarray | None = None

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario this learner cannot take: one agent with Box observations and actions,
        a known termination or reward where the scenario has one."""
        require_box_agent(cls.name, scenario)
        resolve_termination(cls.name, scenario, h["termination"])
        resolve_reward(cls.name, scenario, h["reward"])

    # ----- acting -----------------------------------------------------------------------------------
    def _unscale(self, a: np.ndarray) -> np.ndarray:
        return self.low + 0.5 * (a + 1.0) * (self.high - self.low)

    def model_reward(self, obs: torch.Tensor, act: torch.Tensor, nxt: torch.Tensor, learned: torch.Tensor) -> torch.Tensor:
        """The reward of model transitions: ``learned`` (the model's), or with ``reward: known`` the
        task's own function of ``(obs, act scaled to the bounds, nxt)``."""
        if self.reward_fn is None:
            return learned
        return known(self.reward_fn, obs, torch.as_tensor(self._unscale(act.numpy())), nxt)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """``tanh`` of the actor's mean (deterministic) or a squashed sample, scaled to the bounds."""
        x = torch.as_tensor(np.asarray(obs[AGENT], np.float32).reshape(len(obs[AGENT]), -1))
        with torch.no_grad():
            a, _ = self.sac.sample(x, None if deterministic else self.act_gen)
        return {AGENT: self._unscale(a.numpy())}

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """As ``sac``: a Normal of std ``DETERMINISTIC_STD`` around the squashed mean action (in [-1, 1])."""
        mean, _ = self.sac.sample(obs.reshape(len(obs), -1).float(), None)
        return torch.distributions.Normal(mean, DETERMINISTIC_STD * torch.ones_like(mean))

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """``Q(s, pi(s))``, the mean over the twin critics, differentiable in ``obs``."""
        x = obs.reshape(len(obs), -1).float()
        xa = torch.cat([x, self.sac.sample(x, None)[0]], dim=1)
        return torch.stack([c(xa)[:, 0] for c in self.sac.critics]).mean(0)

    # ----- learning ---------------------------------------------------------------------------------
    def needs_model(self) -> bool:
        """Whether the method uses the model (refits are skipped otherwise)."""
        return True

    def after_fit(self) -> None:
        """Called after each model refit."""

    def train_step(self) -> None:
        """One gradient step of the method."""
        raise NotImplementedError

    def real_batch(self, size: int) -> tuple[torch.Tensor, ...]:
        """``size`` real transitions drawn uniformly: obs, actions, rewards, next obs, terminations."""
        idx = self.rng.integers(0, len(self.data), size)
        return tuple(torch.as_tensor(self.data.view(f)[idx], dtype=torch.float32)
                     for f in ("obs", "actions", "rewards", "next_obs", "terminated"))

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect ``steps`` real steps; refit the model in rounds; update after every step once ready."""
        h = self.hparams
        if self._vec is None:
            self._vec = self.scenario.vector(1, seed=self.seed)
            self._obs = self._vec.reset()[0][AGENT]
        vec, o = self._vec, self._obs
        starts, round_steps = h["learning_starts"], h["round_steps"]
        for t in range(steps):
            total = self.steps_trained + t
            if total < starts:
                a = self.rng.uniform(-1.0, 1.0, (1, self.act_dim)).astype(np.float32)
            else:
                with torch.no_grad():
                    a = self.sac.sample(torch.as_tensor(o.reshape(1, -1), dtype=torch.float32), self.gen)[0].numpy()
            obs, rew, term, trunc, infos = vec.step({AGENT: self._unscale(a)})
            nxt = obs[AGENT]
            ended = term[AGENT] | trunc[AGENT]
            final = nxt.copy()
            for i in np.flatnonzero(ended):
                final[i] = infos[i]["final_observation"][AGENT]
            self.data.add(o.reshape(1, -1), a, rew[AGENT], final.reshape(1, -1), term[AGENT], ended)
            o = nxt
            if self.needs_model() and total + 1 >= starts and (total + 1) % round_steps == 0:
                fit_and_log(self.model, self.data, h["model_updates"], self.rng, self.history, total + 1)
                self.fitted = True
                self.after_fit()
            if total + 1 >= starts and (self.fitted or not self.needs_model()):
                for _ in range(h["gradient_steps"]):
                    self.train_step()
                    self.updates += 1
            if progress:
                progress(t + 1, steps)
        self._obs = o
        self.steps_trained += steps

    # ----- checkpoints ------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        """Method-specific tensors saved with the model (MBPO: its model-rollout buffer)."""
        return {}

    def load_extra(self, state: dict[str, Any]) -> None:
        """Restore ``extra_state``'s tensors."""

    def save(self, path: str | Path) -> Path:
        """Write ``sac.pt`` (state dicts), ``model.pt``, ``data.npz`` and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.sac.state_dict(), path / "sac.pt")
        save_model(path, self.model, self.data, {"fitted": torch.tensor(self.fitted), **self.extra_state()})
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> Any:
        """Restore the actor-critic, the model and the real data."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.sac.load_state_dict(torch.load(path / "sac.pt", weights_only=True))
        agent.data, extra = load_model(path, agent.model)
        agent.fitted = bool(extra.pop("fitted"))
        agent.load_extra(extra)
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
