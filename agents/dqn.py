"""Our DQN family: one Q-learning core, one replay buffer, four named configurations.

- ``double_dqn``: double Q-learning targets (van Hasselt et al. 2016);
- ``dueling_dqn``: dueling value/advantage head (Wang et al. 2016), with double targets;
- ``rainbow``: Hessel et al. 2018's six parts: double + dueling + proportional prioritized
  replay + 3-step returns + the C51 distributional head (``agents.distributional``) + noisy
  linear layers (``agents.noisy``);
- any combination through the flags ``double``, ``dueling``, ``prioritized``, ``n_step``,
  ``distributional`` (``atoms`` on ``[v_min, v_max]``) and ``noisy`` (``sigma0``), so a
  Rainbow ablation is one flag (``--set noisy=false``: Rainbow without noisy nets).

With ``distributional`` the network outputs ``atoms`` logits per action, Q is the mean of the
softmax over the support, the target distribution (of the double-chosen action where
``double``) is projected onto the support and the loss is the cross-entropy, which is also the
prioritized replay's priority (Rainbow's KL, up to the target's entropy). With ``noisy`` every
linear layer is a factorized-Gaussian noisy layer; exploration comes from the noise (actions
are greedy on a fresh noise sample each environment step, the epsilon or softmax strategy is
not used), noise is redrawn for the online and target networks before each update from the
agent's own generator, and ``act(deterministic=True)``, ``policy_distribution`` and ``value``
use the mean weights (evaluation mode).

Exploration is ``epsilon`` (linear schedule) or ``softmax`` (``agents.exploration``).
``learning_rate: lin_2.3e-3`` decays the rate linearly to zero over a ``learn``
call (rl-zoo's notation, as for the SB3 agents), which settles the final
greedy policy instead of leaving it wherever the last update burst put it.
``tau < 1`` replaces hard target copies every ``target_update_interval`` env
steps with Polyak averaging after every gradient step.
Targets bootstrap through time-limit truncations (from the final observation)
and not through terminations. Discrete observations are one-hot encoded. SB3's
DQN has no double/dueling/prioritized/n-step options, hence our own; its
update loop is also leaner (see ``benchmarks/dqn_updates.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents import config, hyperparams
from agents.budget import declare_budget
from agents.gradients import clip_gradients
from agents.base import Capabilities, ProgressFn, TableHyperparameters, require_single_agent
from agents.checkpoint import save_meta
from agents.distributional import project, support
from agents.exploration import Explorer
from agents.hindsight import Hindsight, buffer_store
from agents.noisy import NoisyLinear, noisy_layers, set_noise
from agents.replay import ReplayBuffer
from scenarios import Scenario, UserError
from scenarios.goals import flatten, flatten_space, is_goal_space
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000, "gamma": 0.99,
    "train_freq": 4, "gradient_steps": 1, "target_update_interval": 1000, "net_arch": [64, 64], "n_envs": 1,
    "exploration": "epsilon", "eps_start": 1.0, "eps_end": 0.05, "eps_fraction": 0.2, "temperature": 1.0,
    "double": False, "dueling": False, "prioritized": False, "n_step": 1, "alpha": 0.6, "beta_start": 0.4,
    "max_grad_norm": 10.0, "torch_threads": 1, "tau": 1.0, "total_steps": None,
    "distributional": False, "atoms": 51, "v_min": -10.0, "v_max": 10.0, "noisy": False, "sigma0": 0.5,
    "her": False, "n_sampled_goal": 4, "goal_selection_strategy": "future",
}


class QNetwork(nn.Module):
    """An MLP Q-function, optionally with a dueling head (Q = V + A - mean(A)), ``atoms`` outputs
    per action (logits of a return distribution; 1: plain Q-values) and noisy linear layers."""

    def __init__(self, n_in: int, n_actions: int, net_arch: list[int], dueling: bool, atoms: int = 1,
                 noisy: bool = False, sigma0: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()

        def linear(a: int, b: int) -> nn.Module:
            return NoisyLinear(a, b, sigma0, generator) if noisy else nn.Linear(a, b)

        layers: list[nn.Module] = []
        last = n_in
        for width in net_arch:
            layers += [linear(last, width), nn.ReLU()]
            last = width
        self.torso = nn.Sequential(*layers)
        self.dueling, self.n_actions, self.atoms = dueling, n_actions, atoms
        self.head = linear(last, n_actions * atoms)
        self.value = linear(last, atoms) if dueling else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values (N, A), or return-distribution logits (N, A, atoms) where ``atoms > 1``."""
        h = self.torso(x)
        adv = self.head(h)
        if self.atoms > 1:
            adv = adv.view(len(x), self.n_actions, self.atoms)
        if self.value is None:
            return adv
        v = self.value(h) if self.atoms == 1 else self.value(h)[:, None, :]
        return v + adv - adv.mean(dim=1, keepdim=True)


class QAgent(TableHyperparameters):
    """Deep Q-learning with optional double targets, dueling head, prioritized replay and n-step returns."""

    DEFAULTS = DEFAULTS
    name: ClassVar[str] = "dqn_core"
    flags: ClassVar[dict[str, Any]] = {}
    capabilities = Capabilities(continuous_actions=False, multi_agent="single", learning="off-policy", goal_observations=True)

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default (the family's, then this configuration's flags); its type is
        the one ``agents.make`` checks values against."""
        return {**DEFAULTS, **cls.flags}

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario this learner cannot take with the merged hyperparameters ``h``: one
        agent with discrete actions, array or goal-conditioned Dict observations (``her`` needs the latter)."""
        require_single_agent(cls.name, scenario)
        act_space, obs_space = scenario.action_space(AGENT), scenario.observation_space(AGENT)
        if not isinstance(act_space, spaces.Discrete):
            raise UserError(f"{cls.name} needs discrete actions; {scenario.id} has {act_space}")
        goal = is_goal_space(obs_space)
        if isinstance(obs_space, spaces.Dict) and not goal:
            raise UserError(f"{cls.name} takes array observations or goal-conditioned Dicts; {scenario.id} has {obs_space}")
        if h.get("her") and not goal:
            raise UserError(f"{cls.name}: her needs a goal-conditioned scenario (Dict observations with observation, "
                            f"achieved_goal, desired_goal, e.g. goals/BitFlipping-v0); {scenario.id} has {obs_space}")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                           {**DEFAULTS, **self.flags})
        h = self.hparams
        self.check_scenario(scenario, h)
        act_space, obs_space = scenario.action_space(AGENT), scenario.observation_space(AGENT)
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.discrete_obs = isinstance(obs_space, spaces.Discrete)
        self.goal_space = obs_space if is_goal_space(obs_space) else None
        self.flat_space = flatten_space(obs_space) if self.goal_space is not None else obs_space
        self.n_in = int(obs_space.n) if self.discrete_obs else int(np.prod(self.flat_space.shape))
        self.n_actions = int(act_space.n)
        self.distributional, self.noisy = h["distributional"], h["noisy"]
        atoms = h["atoms"] if self.distributional else 1
        if self.distributional:
            config.check_support(self.name, h["v_min"], h["v_max"])
        self.z = support(atoms, h["v_min"], h["v_max"]) if self.distributional else None
        # the noise has its own generator (seeded from the agent's), so a seed fixes it and evaluating does not move it
        self.noise_gen = torch.Generator().manual_seed(int(self.rng.integers(2**63))) if self.noisy else None
        net = dict(atoms=atoms, noisy=self.noisy, sigma0=h["sigma0"], generator=self.noise_gen)
        self.online = QNetwork(self.n_in, self.n_actions, list(h["net_arch"]), h["dueling"], **net)
        self.target = QNetwork(self.n_in, self.n_actions, list(h["net_arch"]), h["dueling"], **net)
        self.target.load_state_dict(self.online.state_dict())
        self.online.eval()  # noisy layers use their mean weights except where training switches the noise on
        self.target.eval()
        self._noisy_online, self._noisy_target = noisy_layers(self.online), noisy_layers(self.target)
        # fused Adam: ~4x faster a step than the default on CPU for networks this small
        self.lr, self.lr_linear = hyperparams.schedule(h["learning_rate"], "learning_rate", self.name)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=self.lr, fused=True)
        self.params = list(self.online.parameters())
        self.target_params = list(self.target.parameters())
        self.tau = h["tau"]
        hyperparams.every_steps(h["train_freq"], self.name)  # [N, step] is N steps; refuses another list
        if not 0.0 < self.tau <= 1.0:
            raise UserError(f"tau must be in (0, 1] (got {self.tau}); 1 means hard target copies")
        self.explorer = Explorer(h["exploration"], h["eps_start"], h["eps_end"], h["eps_fraction"], h["temperature"])
        self.steps_trained = 0
        self.updates = 0
        self._vec: Any = None  # the training copies and their current observations, kept across learn() calls
        self._obs: np.ndarray | None = None
        self._calls = 0

    def _flat(self, obs: Any) -> np.ndarray:
        """Observations as the network's rows: a goal Dict's keys concatenated (``goals.flatten``)."""
        return flatten(self.goal_space, obs) if isinstance(obs, dict) and self.goal_space is not None else obs

    def _tensor(self, obs: Any) -> torch.Tensor:
        obs = self._flat(obs)
        if self.discrete_obs:
            out = torch.zeros(len(obs), self.n_in)
            out[torch.arange(len(obs)), torch.as_tensor(np.asarray(obs, dtype=np.int64))] = 1.0
            return out
        return torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(len(obs), -1))

    def _q(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Q-values (N, A) of ``net``: its outputs, or the means of its return distributions."""
        out = net(x)
        return out if self.z is None else torch.softmax(out, dim=2) @ self.z

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Online Q-values for a batch of observations (noisy layers: the current mode's weights)."""
        with torch.no_grad():
            return self._q(self.online, self._tensor(obs)).numpy()

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """A Categorical over the online Q-values at raw observations ``obs`` (N, d) (its mode is the greedy action)."""
        return torch.distributions.Categorical(logits=self._q(self.online, self._rows(obs)))

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """max_a Q(obs, a) of the online network."""
        return self._q(self.online, self._rows(obs)).max(dim=1).values

    def _rows(self, obs: torch.Tensor) -> torch.Tensor:
        if self.discrete_obs:
            raise UserError(f"{self.name} on discrete observations has no gradient with respect to the observation")
        return obs.reshape(len(obs), -1)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Greedy actions (or the exploration strategy's at its final setting)."""
        if self.noisy and not deterministic:
            return {AGENT: self._noisy_actions(obs[AGENT])}
        q = self.q_values(obs[AGENT])
        return {AGENT: q.argmax(axis=1) if deterministic else self.explorer.select(q, self.rng, 1.0)}

    def _noisy_actions(self, rows: Any) -> np.ndarray:
        """Greedy actions under a fresh noise sample of the online network (a noisy network's
        exploration), for observations as ``q_values`` takes them (a goal Dict or its flat rows)."""
        self._noise_on(True, target=False)
        q = self.q_values(rows)
        self._noise_on(False, target=False)
        return q.argmax(axis=1)

    def _noise_on(self, on: bool, target: bool = True) -> None:
        """Noisy layers: draw fresh noise and use it (on), or use the mean weights (off); the
        target network's too where ``target``."""
        set_noise(self._noisy_online, on)
        if target:
            set_noise(self._noisy_target, on)

    def update(self, buffer: ReplayBuffer, beta: float) -> float:
        """One gradient step on a sampled minibatch; returns the loss."""
        h = self.hparams
        b = buffer.sample(h["batch_size"], self.rng, beta)
        obs, next_obs = self._tensor(b.obs), self._tensor(b.next_obs)
        actions = torch.as_tensor(b.actions)
        if self.noisy:
            self._noise_on(True)
        if self.distributional:
            loss, td = self._distributional_loss(obs, actions, next_obs, b.rewards, b.discounts, b.weights, buffer.prioritized)
        else:
            loss, td = self._td_loss(obs, actions, next_obs, b.rewards, b.discounts, b.weights, buffer.prioritized)
        if self.noisy:
            self._noise_on(False)
        self.optimizer.zero_grad()
        loss.backward()
        clip_gradients(self.params, h["max_grad_norm"])
        self.optimizer.step()
        if buffer.prioritized:
            buffer.update_priorities(b.indices, td.detach().numpy())
        if self.tau < 1.0:  # Polyak-averaged target after every update (instead of hard copies)
            with torch.no_grad():
                torch._foreach_lerp_(self.target_params, self.params, self.tau)
        self.updates += 1
        return float(loss.detach())

    def _td_loss(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor, rewards: np.ndarray,
                 discounts: np.ndarray, weights: np.ndarray, prioritized: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Huber loss on the (double) Q-learning target; returns the loss and the TD errors (the priorities)."""
        h = self.hparams
        q = self.online(obs).gather(1, actions[:, None])[:, 0]
        with torch.no_grad():
            target_q = self.target(next_obs)
            if h["double"]:
                best = self.online(next_obs).argmax(dim=1, keepdim=True)
                next_q = target_q.gather(1, best)[:, 0]
            else:
                next_q = target_q.max(dim=1).values
            target = torch.as_tensor(rewards) + torch.as_tensor(discounts) * next_q
        td = target - q
        if prioritized:
            loss = (torch.as_tensor(weights) * nn.functional.smooth_l1_loss(q, target, reduction="none")).mean()
        else:
            loss = nn.functional.smooth_l1_loss(q, target)
        return loss, td

    def _distributional_loss(self, obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor, rewards: np.ndarray,
                             discounts: np.ndarray, weights: np.ndarray, prioritized: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """C51: cross-entropy to the projected target distribution; returns the loss and the per-sample
        cross-entropies (the priorities)."""
        z = self.z
        assert z is not None
        logits = self.online(obs)[torch.arange(len(actions)), actions]  # (B, atoms)
        with torch.no_grad():
            target_probs = torch.softmax(self.target(next_obs), dim=2)  # (B, A, atoms)
            chooser = torch.softmax(self.online(next_obs), dim=2) if self.hparams["double"] else target_probs
            best = (chooser @ z).argmax(dim=1)
            target = project(target_probs[torch.arange(len(best)), best], torch.as_tensor(rewards),
                             torch.as_tensor(discounts), z)
        ce = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1)
        loss = (torch.as_tensor(weights) * ce).mean() if prioritized else ce.mean()
        return loss, ce

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect ``steps`` environment steps on ``n_envs`` copies and learn from replay.

        A second call continues the first: the same copies and episodes, replay buffer, n-step
        windows and counters; schedules (epsilon, learning rate, PER beta) run over
        ``total_steps`` (default: the first call's steps), so ``learn(k); learn(k)`` equals
        ``learn(2k)`` with ``total_steps=2k``."""
        h = self.hparams
        n = h["n_envs"]
        budget = max(declare_budget(h, self.steps_trained, steps), 1)
        every = hyperparams.every_steps(h["train_freq"], self.name)
        space = self.flat_space
        buffer = getattr(self, "buffer", None) or ReplayBuffer(
            h["buffer_size"], space.shape, space.dtype, n, h["gamma"], h["n_step"],
            h["prioritized"], h["alpha"])
        self.buffer = buffer
        if h["her"] and getattr(self, "hindsight", None) is None:
            self.hindsight = Hindsight(self.goal_space, self.scenario.compute_reward, n, self.rng, h["n_sampled_goal"],
                                       h["goal_selection_strategy"], h["gamma"], h["n_step"])
        if self._vec is None:
            self._vec = self.scenario.vector(n, seed=self.seed)
            self._obs = self._vec.reset()[0][AGENT]
        vec, o = self._vec, self._obs
        flat = self._flat(o)  # the network's rows of ``o``: flattened once per step (goal Dicts)
        t = 0
        while t < steps:
            frac = min(1.0, (self.steps_trained + t) / budget)
            if self.steps_trained + t < h["learning_starts"]:
                a = self.rng.integers(0, self.n_actions, n)
            elif self.noisy:  # ``flat`` are the network's rows: not the public act's (Dict) observations
                a = self._noisy_actions(flat)
            else:
                a = self.explorer.select(self.q_values(flat), self.rng, frac)
            obs, rew, term, trunc, infos = vec.step({AGENT: a})
            nxt = obs[AGENT]
            ended = term[AGENT] | trunc[AGENT]
            nxt_flat = self._flat(nxt)
            final = nxt_flat.copy()
            for i in np.flatnonzero(ended):
                final[i] = self._flat(infos[i]["final_observation"][AGENT])
            buffer.add(flat, a, rew[AGENT], final, term[AGENT], ended)
            if h["her"]:
                self.hindsight.add_step(flat, a, nxt, infos, AGENT, ended, buffer_store(buffer), final, term[AGENT])
            o, flat = nxt, nxt_flat
            t += n
            self._calls += 1
            total = self.steps_trained + t
            if total >= h["learning_starts"] and self._calls % every == 0 and len(buffer) >= h["batch_size"]:
                beta = h["beta_start"] + (1.0 - h["beta_start"]) * frac
                if self.lr_linear:
                    self.optimizer.param_groups[0]["lr"] = self.lr * (1.0 - frac)
                for _ in range(hyperparams.gradient_count(h["gradient_steps"], every * n)):
                    self.update(buffer, beta)
            if self.tau == 1.0 and (total // n) % max(1, h["target_update_interval"] // n) == 0:
                self.target.load_state_dict(self.online.state_dict())
            if progress:
                progress(min(t, steps), steps)
        self._obs = o  # the episodes go on in the next call (n-step windows included)
        self.steps_trained += t

    def save(self, path: str | Path) -> Path:
        """Write ``q.pt`` and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.online.state_dict(), path / "q.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> QAgent:
        """Restore the Q-network."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.online.load_state_dict(torch.load(path / "q.pt", weights_only=True))
        agent.target.load_state_dict(agent.online.state_dict())
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


class DoubleDQN(QAgent):
    """DQN with double Q-learning targets."""

    name = "double_dqn"
    flags = {"double": True}


class DuelingDQN(QAgent):
    """DQN with a dueling head and double targets."""

    name = "dueling_dqn"
    flags = {"double": True, "dueling": True}


class Rainbow(QAgent):
    """Double + dueling + prioritized replay + 3-step returns + C51 + noisy nets (each part one flag)."""

    name = "rainbow"
    flags = {"double": True, "dueling": True, "prioritized": True, "n_step": 3, "distributional": True, "noisy": True}


DQN_AGENTS = (DoubleDQN, DuelingDQN, Rainbow)
