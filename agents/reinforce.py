"""REINFORCE with a learned baseline (Williams 1992; Sutton & Barto ch. 13.4).

Monte-Carlo policy gradient on the vectorized face: each copy's trajectory is
collected whole, returns-to-go are computed per step, and the baseline V(s)
(a separate MLP, fitted by regression on those returns) is subtracted to cut
variance. A time-limit truncation bootstraps the return from V(final
observation); a termination does not. Discrete actions use a categorical
policy, continuous ones a diagonal Gaussian (actions clipped to the bounds
when applied). SB3 has no REINFORCE, hence our own (~150 lines).

Every update is on-policy: its gradient uses only steps taken by the current
policy. An episode still running at an update loses the steps it took before
(those came from the previous policy); its remaining steps, taken by the
updated policy, enter the next update as a trajectory that starts where the
update found it. Their returns-to-go are exact Monte-Carlo returns of the
updated policy (a return-to-go involves only later rewards), so the estimator
stays unbiased in the actions; only the start state of such a segment comes
from the previous policy's state distribution, as in A2C/PPO rollouts that
start mid-episode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents import hyperparams
from agents.base import Capabilities, ProgressFn, require_single_agent, TableHyperparameters
from agents.checkpoint import save_meta
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {"learning_rate": 1e-3, "value_learning_rate": 1e-3, "gamma": 0.99, "n_envs": 8,
                            "net_arch": [64, 64], "steps_per_update": 2048, "normalize_advantage": True,
                            "entropy_coef": 0.0, "value_epochs": 5, "torch_threads": 1}


def mlp(n_in: int, n_out: int, net_arch: list[int]) -> nn.Sequential:
    """A tanh MLP."""
    layers: list[nn.Module] = []
    for width in net_arch:
        layers += [nn.Linear(n_in, width), nn.Tanh()]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


class Reinforce(TableHyperparameters):
    """REINFORCE with a learned state-value baseline, discrete or continuous actions."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "reinforce"
    capabilities = Capabilities(multi_agent="single", learning="on-policy")

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario without one agent of Box observations and Discrete or Box actions."""
        require_single_agent(cls.name, scenario)
        obs_space, act_space = scenario.observation_space(AGENT), scenario.action_space(AGENT)
        if not isinstance(obs_space, spaces.Box):
            raise UserError(f"{cls.name} needs Box observations; {scenario.id} has {obs_space}")
        if not isinstance(act_space, (spaces.Discrete, spaces.Box)):
            raise UserError(f"{cls.name} needs Discrete or Box actions; {scenario.id} has {act_space}")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.check_scenario(scenario, overrides)
        obs_space, self.act_space = scenario.observation_space(AGENT), scenario.action_space(AGENT)
        self.discrete = isinstance(self.act_space, spaces.Discrete)
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        h = self.hparams
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        n_in = int(np.prod(obs_space.shape))
        n_out = int(self.act_space.n) if self.discrete else int(np.prod(self.act_space.shape))
        self.policy = mlp(n_in, n_out, list(h["net_arch"]))
        self.log_std = nn.Parameter(torch.zeros(n_out)) if not self.discrete else None
        self.value_net = mlp(n_in, 1, list(h["net_arch"]))
        params = list(self.policy.parameters()) + ([self.log_std] if self.log_std is not None else [])
        self.pi_opt = torch.optim.Adam(params, lr=h["learning_rate"])
        self.v_opt = torch.optim.Adam(self.value_net.parameters(), lr=h["value_learning_rate"])
        self.steps_trained = 0
        self._vec: Any = None  # the training copies, their observations and trajectories, kept across learn() calls
        self._last: dict[str, np.ndarray] = {}
        self._traj: list[list[tuple]] = []
        self._finished: list[tuple[np.ndarray, ...]] = []
        self._collected = 0

    def _dist(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        out = self.policy(obs)
        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Normal(out, self.log_std.exp())

    def _obs(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, np.float32).reshape(len(obs), -1))

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Mode (deterministic) or sample of the policy; continuous actions clipped to the bounds."""
        with torch.no_grad():
            dist = self._dist(self._obs(obs[AGENT]))
            if deterministic:
                a = dist.probs.argmax(dim=1) if self.discrete else dist.mean
            else:
                a = dist.sample()
        a = a.numpy()
        return {AGENT: a if self.discrete else np.clip(a, self.act_space.low, self.act_space.high).astype(np.float32)}

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d)."""
        return self._dist(obs.reshape(len(obs), -1))

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The learned baseline V(s) at raw observations ``obs`` (N, d)."""
        return self.value_net(obs.reshape(len(obs), -1))[:, 0]

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect whole trajectories and take one policy-gradient step per ``steps_per_update`` steps.

        A second call continues the first: the same copies mid-episode, their unfinished
        trajectories and the finished ones not yet used, so ``learn(k); learn(k)`` equals
        ``learn(2k)`` (an update happens only once ``steps_per_update`` steps are collected)."""
        h = self.hparams
        n, gamma = h["n_envs"], h["gamma"]
        if self._vec is None:
            self._vec = self.scenario.vector(n, seed=self.seed)
            self._last = self._vec.reset()[0]
            self._traj = [[] for _ in range(n)]
        vec, obs, traj, finished = self._vec, self._last, self._traj, self._finished
        t = 0
        while t < steps:
            o = self._obs(obs[AGENT])
            with torch.no_grad():
                a = self._dist(o).sample()
            a_np = a.numpy()
            applied = a_np if self.discrete else np.clip(a_np, self.act_space.low, self.act_space.high).astype(np.float32)
            obs, rew, term, trunc, infos = vec.step({AGENT: applied})
            for i in range(n):
                traj[i].append((o[i].numpy(), a_np[i], rew[AGENT][i]))
                if term[AGENT][i] or trunc[AGENT][i]:
                    bootstrap = 0.0
                    if trunc[AGENT][i] and not term[AGENT][i]:
                        with torch.no_grad():
                            bootstrap = float(self.value_net(self._obs(infos[i]["final_observation"][AGENT][None]))[0, 0])
                    finished.append(self._returns(traj[i], gamma, bootstrap))
                    self._collected += len(traj[i])
                    traj[i] = []
            t += n
            if self._collected >= h["steps_per_update"]:
                self._update(finished)
                finished.clear()
                self._collected = 0
                for part in traj:  # steps of the previous policy are not used on-policy
                    part.clear()
            if progress:
                progress(min(t, steps), steps)
        self._last = obs
        self.steps_trained += t

    @staticmethod
    def _returns(traj: list[tuple], gamma: float, bootstrap: float) -> tuple[np.ndarray, ...]:
        """(observations, actions, returns-to-go) of one trajectory."""
        obs = np.stack([x[0] for x in traj])
        actions = np.stack([x[1] for x in traj])
        g, out = bootstrap, np.zeros(len(traj))
        for k in range(len(traj) - 1, -1, -1):
            g = traj[k][2] + gamma * g
            out[k] = g
        return obs, actions, out

    def _update(self, episodes: list[tuple[np.ndarray, ...]]) -> None:
        h = self.hparams
        obs = torch.as_tensor(np.concatenate([e[0] for e in episodes]))
        actions = torch.as_tensor(np.concatenate([e[1] for e in episodes]))
        returns = torch.as_tensor(np.concatenate([e[2] for e in episodes]), dtype=torch.float32)
        with torch.no_grad():
            adv = returns - self.value_net(obs)[:, 0]
        if h["normalize_advantage"] and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        dist = self._dist(obs)
        logp = dist.log_prob(actions)
        if not self.discrete:
            logp = logp.sum(dim=1)
        entropy = dist.entropy().mean() if self.discrete else dist.entropy().sum(dim=1).mean()
        loss = -(logp * adv).mean() - h["entropy_coef"] * entropy
        self.pi_opt.zero_grad()
        loss.backward()
        self.pi_opt.step()
        for _ in range(h["value_epochs"]):
            v_loss = nn.functional.mse_loss(self.value_net(obs)[:, 0], returns)
            self.v_opt.zero_grad()
            v_loss.backward()
            self.v_opt.step()

    def save(self, path: str | Path) -> Path:
        """Write ``reinforce.pt`` and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"policy": self.policy.state_dict(), "value": self.value_net.state_dict(),
                    "log_std": self.log_std.detach() if self.log_std is not None else None}, path / "reinforce.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> Reinforce:
        """Restore the networks."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        state = torch.load(path / "reinforce.pt", weights_only=True)
        agent.policy.load_state_dict(state["policy"])
        agent.value_net.load_state_dict(state["value"])
        if agent.log_std is not None:
            agent.log_std.data.copy_(state["log_std"])
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
