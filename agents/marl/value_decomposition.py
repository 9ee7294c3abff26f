"""Value-based multi-agent learners: ``iql`` (independent Q-learning), ``vdn``
(Sunehag et al. 2018: Q_tot = sum of agent Qs) and ``qmix`` (Rashid et al. 2018:
a monotonic mixing network conditioned on the global state), one implementation.

Each parameter-sharing group has a Q-network on its agents' own observations
(agent id appended when shared); execution is greedy per agent on local
observations only. ``iql`` trains every agent on its own reward; ``vdn`` and
``qmix`` train the mixed value on the team reward (the sum of the agents'
rewards, stated in every result). Targets use double Q-learning, bootstrap
through time-limit truncations (from the final observation) and not through
terminations (for ``vdn``/``qmix``: the team's bootstrap stops when the episode
ends, every live agent terminated, not when one agent does); target networks are copied every ``target_update_interval``
updates. Feed-forward agents with transition replay, as EPyMARL's
non-recurrent configurations; ours because EPyMARL cannot load the current
MPE tasks (see ``agents.marl.ppo``). The torch modules hold the parameters; acting, the rollouts
and the update evaluate and differentiate them in NumPy (``agents.marl.numpy_value_nets``: the
same loss and gradients as autograd, ~1.8x the training rate).

Two of EPyMARL's settings are options here: ``standardise_rewards`` divides the
learned reward (the team's for ``vdn``/``qmix``, each agent's for ``iql``) by a
running standard deviation after subtracting a running mean (statistics over
every collected step, kept across ``learn`` calls and in the training state), and
``bootstrap_truncation: false`` ends the bootstrap at time limits as at
terminations (EPyMARL's gym wrapper reports MPE's time limit as an episode end).
All three default to both (``agents/defaults/{qmix,vdn,iql}.yaml``; VDN without them
collapsed far below random on simple_spread in 3 of 4 seeds, IQL declined after its peak at
100k-300k team steps in the 3 seeds probed); QMIX on simple_spread needed
both, measured: with bootstrapped 25-step episodes and raw rewards its mixer's weights grow
without bound - the greedy next-state value runs ahead of the chosen one by the agents'
greedy margin times the mixer's gain, which lifts the targets, which grow the weights - and
Q_tot diverged upwards (to +27,000 where the true value is about -250) while the score
fell below random (RESULTS.md, issue #18).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.running_mean_std import RunningMeanStd
from torch import nn

from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, ProgressFn, TableHyperparameters
from agents.checkpoint import save_meta
from agents.exploration import Explorer, anneal_fraction
from agents.marl.groups import encode, make_groups, obs_dim
from agents.marl.joint_replay import JointReplay, next_observations
from agents.marl.nets import mlp_head
from agents.marl.numpy_value_nets import NumpyValueNets, td_gradients
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

MIXERS = ("none", "vdn", "qmix")
DEFAULTS: dict[str, Any] = {
    "n_envs": 8, "buffer_size": 100_000, "batch_size": 128, "learning_rate": 5e-4, "gamma": 0.99,
    "learning_starts": 2000, "train_freq": 1, "gradient_steps": 1, "target_update_interval": 200,
    "exploration": "epsilon", "eps_start": 1.0, "eps_end": 0.05, "eps_fraction": 0.3, "eps_anneal_max": 50_000,
    "temperature": 1.0,
    "net_arch": [64, 64], "mixing_embed": 32, "sharing": "group", "agent_id": True, "max_grad_norm": 10.0,
    "torch_threads": 1, "backend": "auto", "total_steps": None,
    "standardise_rewards": False, "bootstrap_truncation": True,
}


class QMixer(nn.Module):
    """QMIX's monotonic mixer: hypernetworks map the state to non-negative weights."""

    def __init__(self, n_agents: int, state_dim: int, embed: int) -> None:
        super().__init__()
        self.n, self.embed = n_agents, embed
        self.w1 = nn.Sequential(nn.Linear(state_dim, 64), nn.ReLU(), nn.Linear(64, n_agents * embed))
        self.b1 = nn.Linear(state_dim, embed)
        self.w2 = nn.Sequential(nn.Linear(state_dim, 64), nn.ReLU(), nn.Linear(64, embed))
        self.b2 = nn.Sequential(nn.Linear(state_dim, embed), nn.ReLU(), nn.Linear(embed, 1))

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Q_tot (B,) from agent values (B, n) and states (B, state_dim)."""
        w1 = self.w1(state).abs().view(-1, self.n, self.embed)
        hidden = torch.nn.functional.elu(torch.bmm(q.unsqueeze(1), w1).squeeze(1) + self.b1(state))
        w2 = self.w2(state).abs()
        return (hidden * w2).sum(1) + self.b2(state)[:, 0]


class ValueDecomposition(TableHyperparameters):
    """IQL / VDN / QMIX over parameter-sharing groups with discrete actions."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "qmix"
    mixer: ClassVar[str] = "qmix"
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning="off-policy")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                               DEFAULTS)
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        self.groups = make_groups(scenario, h["sharing"], h["agent_id"])
        for g in self.groups:
            if not g.discrete:
                raise UserError(f"{self.name} needs discrete actions; {g.agents[0]} of {scenario.id} has {g.act_space}")
        self.agents = [a for g in self.groups for a in g.agents]
        self.obs_spaces = {a: scenario.observation_space(a) for a in scenario.possible_agents}
        self.state_dim = sum(obs_dim(s) for s in self.obs_spaces.values())
        widths = list(h["net_arch"])
        self.q = nn.ModuleList(mlp_head(g.in_dim, widths, g.act_dim, nn.ReLU) for g in self.groups)
        self.mix = QMixer(len(self.agents), self.state_dim, h["mixing_embed"]) if self.mixer == "qmix" else None
        hyperparams.schedule(h["learning_rate"], "learning_rate", self.name)  # refuses a bad value here
        hyperparams.every_steps(h["train_freq"], self.name)  # [N, step] is N steps; refuses another list
        self.q_target = copy.deepcopy(self.q)
        self.mix_target = copy.deepcopy(self.mix)
        self._fast = NumpyValueNets(self.q, self.mix, self.q_target, self.mix_target)
        """The networks in NumPy over the modules' storage, and their Adam (``agents.marl.numpy_value_nets``):
        acting, the rollouts and the update run there."""
        self.explorer = Explorer(h["exploration"], h["eps_start"], h["eps_end"],
                                 h["eps_fraction"], h["temperature"])
        self.rng = np.random.default_rng(seed)
        self.reward_stats = RunningMeanStd(shape=()) if h["standardise_rewards"] else None
        self.steps_trained = 0
        self.updates = 0
        self.history: list[dict[str, Any]] = []
        self._recent: list = []

    def _state(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([encode(obs[a], self.obs_spaces[a]) for a in self.scenario.possible_agents], axis=1)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Greedy actions per agent from its own observation (decentralized execution)."""
        out: dict[str, np.ndarray] = {}
        for gi, g in enumerate(self.groups):
            q = self._fast.qvalues(gi, g.inputs(obs))
            for j, a in enumerate(g.agents):
                out[a] = q[:, j].argmax(1) if deterministic else self.explorer.select(q[:, j], self.rng, 1.0)
        return out

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect with exploration, replay joint transitions, update Q (and the mixer). A second call
        continues the first's copies, episodes and replay; a ``lin_<x>`` learning rate decays over
        ``total_steps`` (default: the first call's steps), epsilon over its first
        ``min(eps_fraction * total_steps, eps_anneal_max)`` steps (EPyMARL anneals over 50,000)."""
        h = self.hparams
        n = h["n_envs"]
        budget = max(1, declare_budget(h, self.steps_trained, steps))
        fraction = anneal_fraction(h["eps_fraction"], budget, h["eps_anneal_max"])
        self.explorer = Explorer(h["exploration"], h["eps_start"], h["eps_end"], fraction, h["temperature"])
        every = hyperparams.every_steps(h["train_freq"], self.name)
        lr, lr_linear = hyperparams.schedule(h["learning_rate"], "learning_rate", self.name)  # lin_<x>: x to 0
        if getattr(self, "_rollout", None) is None:
            vec = self.scenario.vector(n, seed=self.seed, backend=h["backend"])
            self._rollout = (vec, vec.reset()[0], JointReplay(h["buffer_size"]))
        vec, obs, buffer = self._rollout
        done_steps = 0
        recent = self._recent  # episodes since the last history entry, carried across learn() calls
        while done_steps < steps:
            frac = min(1.0, (self.steps_trained + done_steps) / budget)
            actions: dict[str, np.ndarray] = {}
            inputs = [g.inputs(obs) for g in self.groups]
            for gi, g in enumerate(self.groups):
                q = self._fast.qvalues(gi, inputs[gi])
                for j, a in enumerate(g.agents):
                    actions[a] = self.explorer.select(q[:, j], self.rng, frac)
            alive = {a: vec.active[a].copy() for a in self.agents}
            new_obs, rew, term, trunc, infos = vec.step(actions)
            nxt = next_observations(new_obs, infos)
            ends = term if h["bootstrap_truncation"] else {a: term[a] | trunc[a] for a in self.agents}
            batch: dict[str, np.ndarray] = {
                "state": self._state(obs), "next_state": self._state(nxt),
                "reward": np.stack([rew[a] for a in self.agents], 1).astype(np.float32),
                "term": np.stack([ends[a] for a in self.agents], 1).astype(np.float32),
                "mask": np.stack([alive[a] for a in self.agents], 1).astype(np.float32),
            }
            for gi, g in enumerate(self.groups):
                batch[f"x{gi}"] = inputs[gi]
                batch[f"nx{gi}"] = g.inputs(nxt)
                batch[f"a{gi}"] = np.stack([actions[a] for a in g.agents], 1).astype(np.int64)
            buffer.add(**batch)
            if self.reward_stats is not None:  # the reward the learner fits: the team's, or each agent's (iql)
                live = batch["reward"] * batch["mask"]
                self.reward_stats.update(live.sum(1) if self.mixer != "none" else live[batch["mask"] > 0])
            recent += [sum(info["episode"]["returns"].values()) for info in infos if "episode" in info]
            obs = new_obs
            done_steps += n
            total = self.steps_trained + done_steps
            if total >= h["learning_starts"] and (total // n) % every == 0:
                for _ in range(hyperparams.gradient_count(h["gradient_steps"], every * n)):
                    self._update(buffer.sample(h["batch_size"], self.rng), lr * (1.0 - frac) if lr_linear else lr)
            if recent and len(recent) >= 4 * n:
                self.history.append({"steps": self.steps_trained + done_steps, "team_return_sum": float(np.mean(recent))})
                recent.clear()
            if progress:
                progress(min(done_steps, steps), steps)
        self.steps_trained += done_steps
        self._rollout = (vec, obs, buffer)

    def _update(self, b: dict[str, np.ndarray], lr: float) -> float:
        """One gradient step on minibatch ``b`` at learning rate ``lr`` (``td_gradients``: the loss of the
        module docstring); the target networks are copied every ``target_update_interval`` updates.
        Returns the loss."""
        h = self.hparams
        shift, scale = 0.0, 1.0
        if self.reward_stats is not None:
            shift, scale = float(self.reward_stats.mean), float(np.sqrt(self.reward_stats.var + 1e-8))
        loss = td_gradients(self._fast, b, self.mixer, h["gamma"], shift, scale)
        self._fast.step(lr, h["max_grad_norm"])
        self.updates += 1
        if self.updates % h["target_update_interval"] == 0:
            self.q_target.load_state_dict(self.q.state_dict())
            if self.mix is not None:
                self.mix_target.load_state_dict(self.mix.state_dict())
        return loss

    def save(self, path: str | Path) -> Path:
        """Write ``qnets.pt`` (and the mixer) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"q": self.q.state_dict(), "mix": self.mix.state_dict() if self.mix is not None else None}, path / "qnets.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> ValueDecomposition:
        """Restore the Q-networks and mixer."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        state = torch.load(path / "qnets.pt", weights_only=True)
        agent.q.load_state_dict(state["q"])
        if agent.mix is not None:
            agent.mix.load_state_dict(state["mix"])
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


class QMIX(ValueDecomposition):
    """QMIX: monotonic state-conditioned mixing of per-agent Q-values (team reward)."""

    name = "qmix"
    mixer = "qmix"
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning="off-policy", competitive=False)


class VDN(ValueDecomposition):
    """VDN: the team value is the sum of per-agent Q-values (team reward)."""

    name = "vdn"
    mixer = "vdn"
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning="off-policy", competitive=False)


class IQL(ValueDecomposition):
    """Independent Q-learning: each agent learns from its own reward."""

    name = "iql"
    mixer = "none"


VALUE_AGENTS = (QMIX, VDN, IQL)
