"""MADDPG (Lowe et al. 2017): deterministic actors on local observations, one
centralized critic per agent on the global state and every agent's action.

Continuous actions: tanh actors scaled to the action bounds, Gaussian
exploration noise. Discrete actions: the actor outputs logits and acts through
a straight-through Gumbel-softmax during training (argmax at execution),
critics take one-hot actions. Each agent maximizes its own reward, so
competitive and mixed scenarios are supported (one learner per group/team).
Targets use target actors and critics (Polyak ``tau``), bootstrap through
time-limit truncations (from the final observation) and not through
terminations. For discrete actions the target actions are, by default
(``target_actions: sample``), relaxed Gumbel-softmax samples of the target
actors, as in OpenAI's implementation (``act_pd.sample()`` of its
``SoftCategoricalPd``); ``greedy`` takes the target actors' one-hot argmax
(EPyMARL's choice). Each agent's policy gradient flows through its own action
only: the other agents' actions in its critic's input are detached, also when
agents share an actor (MADDPG's gradient; EPyMARL's ``maddpg_learner.py``). Parameter sharing follows ``agents.marl.groups`` (default
``none``: every agent its own networks, as in the paper). Ours because no
maintained MADDPG runs on PettingZoo 1.27 / mpe2 without TorchRL. The torch modules hold the
parameters; acting, the rollouts and the update evaluate and differentiate them in NumPy
(``agents.marl.numpy_maddpg``: the same losses and gradients as autograd), with the Gumbel noise
drawn from the agent's NumPy generator.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agents import hyperparams
from agents.base import Capabilities, ProgressFn, TableHyperparameters
from agents.checkpoint import save_meta
from agents.marl.groups import Group, encode, make_groups, obs_dim
from agents.marl.joint_replay import JointReplay, next_observations
from agents.marl.nets import mlp_head
from agents.marl.numpy_maddpg import (NumpyNet, actor_gradients, critic_gradients, critic_inputs, encoded,
                                      group_slices, gumbel_noise)
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

DEFAULTS: dict[str, Any] = {
    "n_envs": 8, "buffer_size": 200_000, "batch_size": 256, "actor_lr": 1e-3, "critic_lr": 1e-3, "gamma": 0.95,
    "tau": 0.01, "learning_starts": 2000, "train_freq": 1, "gradient_steps": 1, "noise_std": 0.1,
    "gumbel_temperature": 1.0, "net_arch": [64, 64], "sharing": "none", "agent_id": True, "max_grad_norm": 0.5,
    "torch_threads": 1, "backend": "auto", "target_actions": "sample",
}
TARGET_ACTIONS = ("sample", "greedy")


class MADDPG(TableHyperparameters):
    """MADDPG with continuous actions, or Gumbel-softmax for discrete actions."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "maddpg"
    capabilities = Capabilities(multi_agent="any", learning="off-policy")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                               DEFAULTS)
        if h["target_actions"] not in TARGET_ACTIONS:
            raise UserError(f"unknown target_actions '{h['target_actions']}' (valid: {', '.join(TARGET_ACTIONS)})")
        hyperparams.every_steps(h["train_freq"], self.name)  # [N, step] is N steps; refuses another list
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        self.groups = make_groups(scenario, h["sharing"], h["agent_id"])
        self.obs_spaces = {a: scenario.observation_space(a) for a in scenario.possible_agents}
        self.state_dim = sum(obs_dim(s) for s in self.obs_spaces.values())
        self.joint_act_dim = sum(g.act_dim * len(g.agents) for g in self.groups)
        w = list(h["net_arch"])
        self.actors = nn.ModuleList(mlp_head(g.in_dim, w, g.act_dim, nn.ReLU) for g in self.groups)
        self.critics = nn.ModuleList(
            mlp_head(self.state_dim + self.joint_act_dim + (len(g.agents) if g.use_id else 0), w, 1, nn.ReLU)
            for g in self.groups
        )
        self.actors_t, self.critics_t = copy.deepcopy(self.actors), copy.deepcopy(self.critics)
        self._actors = [NumpyNet(a, at) for a, at in zip(self.actors, self.actors_t)]
        self._critics = [NumpyNet(c, ct) for c, ct in zip(self.critics, self.critics_t)]
        """Each actor and critic (and target) in NumPy over the modules' storage, with its Adam
        (``agents.marl.numpy_maddpg``): acting, the rollouts and the update run there."""
        self._slices = group_slices(self.groups)
        self.rng = np.random.default_rng(seed)
        self.steps_trained = 0
        self.history: list[dict[str, Any]] = []
        self._recent: list = []

    # ----- action encodings -----------------------------------------------------------------------
    def _noise(self, gi: int, x: np.ndarray) -> np.ndarray | None:
        """Gumbel noise (B, k, A) from the agent's generator for group ``gi``'s inputs ``x``; None for Box actions."""
        g = self.groups[gi]
        return gumbel_noise(self.rng, (*x.shape[:2], g.act_dim)) if g.discrete else None

    def _encoded(self, gi: int, x: np.ndarray, explore: bool) -> np.ndarray:
        """Group actions in critic units (B, k, act_dim): [-1, 1] for Box, (one-)hot for Discrete (a
        Gumbel-softmax sample when ``explore``, the argmax otherwise)."""
        noise = self._noise(gi, x) if explore else None
        return encoded(self._actors[gi].net, x, self.groups[gi].discrete, noise, self.hparams["gumbel_temperature"])

    def target_encoded(self, gi: int, x: np.ndarray) -> np.ndarray:
        """The target actor's actions for the critic target, in critic units (B, k, act_dim): for Discrete
        a relaxed Gumbel-softmax sample (``target_actions: sample``) or the argmax's one-hot (``greedy``)."""
        g = self.groups[gi]
        sample = g.discrete and self.hparams["target_actions"] == "sample"
        return encoded(self._actors[gi].target, x, g.discrete, self._noise(gi, x) if sample else None,
                       self.hparams["gumbel_temperature"], hard=False)

    def _to_env(self, g: Group, enc: np.ndarray) -> np.ndarray:
        if g.discrete:
            return enc.argmax(-1).astype(np.int64)
        low, high = g.act_space.low, g.act_space.high
        return (low + (enc + 1.0) * 0.5 * (high - low)).astype(np.float32)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Each agent's action from its own observation (decentralized execution)."""
        out: dict[str, np.ndarray] = {}
        for gi, g in enumerate(self.groups):
            enc = self._encoded(gi, g.inputs(obs), explore=not deterministic)
            for j, a in enumerate(g.agents):
                out[a] = self._to_env(g, enc[:, j])
        return out

    def _explore(self, inputs: list[np.ndarray]) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
        """Exploratory actions from each group's actor inputs: Gumbel-softmax samples, or Gaussian noise on
        Box actions; returns the environment's actions and each group's in critic units."""
        out: dict[str, np.ndarray] = {}
        encs = []
        std = self.hparams["noise_std"]
        for gi, g in enumerate(self.groups):
            enc = self._encoded(gi, inputs[gi], explore=True)
            if not g.discrete:
                enc = np.clip(enc + self.rng.normal(0, std, enc.shape), -1, 1).astype(np.float32)
            encs.append(enc)
            for j, a in enumerate(g.agents):
                out[a] = self._to_env(g, enc[:, j])
        return out, encs

    # ----- learning -------------------------------------------------------------------------------
    def _state(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([encode(obs[a], self.obs_spaces[a]) for a in self.scenario.possible_agents], axis=1)

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect with exploration into a joint replay; update critics, then actors, then targets.
        A second call continues the first's copies, episodes and replay."""
        h = self.hparams
        n = h["n_envs"]
        every = hyperparams.every_steps(h["train_freq"], self.name)
        if getattr(self, "_rollout", None) is None:
            vec = self.scenario.vector(n, seed=self.seed, backend=h["backend"])
            self._rollout = (vec, vec.reset()[0], JointReplay(h["buffer_size"]))
        vec, obs, buffer = self._rollout
        agents_order = [a for g in self.groups for a in g.agents]
        done_steps = 0
        recent = self._recent  # episodes since the last history entry, carried across learn() calls
        while done_steps < steps:
            inputs = [g.inputs(obs) for g in self.groups]
            if self.steps_trained + done_steps < h["learning_starts"]:
                encs = [self._uniform(g, n) for g in self.groups]
                actions = {a: self._to_env(g, encs[gi][:, j]) for gi, g in enumerate(self.groups) for j, a in enumerate(g.agents)}
            else:
                actions, encs = self._explore(inputs)
            new_obs, rew, term, trunc, infos = vec.step(actions)
            nxt = next_observations(new_obs, infos)
            batch = {"state": self._state(obs), "next_state": self._state(nxt),
                     "reward": np.stack([rew[a] for a in agents_order], 1).astype(np.float32),
                     "term": np.stack([term[a] for a in agents_order], 1).astype(np.float32)}
            for gi, g in enumerate(self.groups):
                batch[f"x{gi}"], batch[f"nx{gi}"], batch[f"a{gi}"] = inputs[gi], g.inputs(nxt), encs[gi]
            buffer.add(**batch)
            recent += [info["episode"]["returns"] for info in infos if "episode" in info]
            obs = new_obs
            done_steps += n
            total = self.steps_trained + done_steps
            if total >= h["learning_starts"] and (total // n) % every == 0:
                for _ in range(hyperparams.gradient_count(h["gradient_steps"], every * n)):
                    self._update(buffer.sample(h["batch_size"], self.rng))
            if len(recent) >= 4 * n:
                self.history.append({"steps": self.steps_trained + done_steps,
                                     **{a: float(np.mean([r[a] for r in recent])) for a in agents_order}})
                recent.clear()
            if progress:
                progress(min(done_steps, steps), steps)
        self.steps_trained += done_steps
        self._rollout = (vec, obs, buffer)

    def _uniform(self, g: Group, n: int) -> np.ndarray:
        """Seeded uniform random actions in critic units, (n, k, act_dim), for the warm-up."""
        k = len(g.agents)
        if g.discrete:
            return np.eye(g.act_dim, dtype=np.float32)[self.rng.integers(0, g.act_dim, size=(n, k))]
        return self.rng.uniform(-1, 1, size=(n, k, g.act_dim)).astype(np.float32)

    def _update(self, b: dict[str, np.ndarray]) -> dict[str, float]:
        """One update of every critic, then every actor, then the targets (Polyak ``tau``), on minibatch ``b``
        (``agents.marl.numpy_maddpg``: the losses of the module docstring). Returns the mean losses."""
        h = self.hparams
        gamma, tau, temp = h["gamma"], h["tau"], h["gumbel_temperature"]
        joint = np.concatenate([b[f"a{gi}"].reshape(len(b["state"]), -1) for gi in range(len(self.groups))], 1)
        next_joint = np.concatenate([self.target_encoded(gi, b[f"nx{gi}"]).reshape(len(joint), -1)
                                     for gi in range(len(self.groups))], 1)
        state, next_state = b["state"].astype(np.float32, copy=False), b["next_state"].astype(np.float32, copy=False)
        critic_losses, actor_losses, first = [], [], 0
        inputs: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}  # groups of one shape share them
        for gi, g in enumerate(self.groups):
            k = len(g.agents)
            sl = slice(first, first + k)
            first += k
            if (k, g.use_id) not in inputs:
                inputs[k, g.use_id] = (critic_inputs(state, joint, k, g.use_id),
                                       critic_inputs(next_state, next_joint, k, g.use_id))
            critic_losses.append(critic_gradients(self._critics[gi], *inputs[k, g.use_id], b["reward"][:, sl],
                                                  b["term"][:, sl], gamma))
            self._critics[gi].step(h["critic_lr"], h["max_grad_norm"])
        for gi, g in enumerate(self.groups):
            cols = self._slices[gi]
            actor_losses.append(actor_gradients(
                self._actors[gi], self._critics[gi], b[f"x{gi}"], state, joint[:, : cols.start], joint[:, cols.stop :],
                g.discrete, g.use_id, self._noise(gi, b[f"x{gi}"]), temp))
            self._actors[gi].step(h["actor_lr"], h["max_grad_norm"])
        for net in self._critics + self._actors:
            net.polyak(tau)
        return {"critic_loss": float(np.mean(critic_losses)), "actor_loss": float(np.mean(actor_losses))}

    # ----- checkpoints ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``maddpg.pt`` (actors and critics) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"actors": self.actors.state_dict(), "critics": self.critics.state_dict()}, path / "maddpg.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> MADDPG:
        """Restore actors and critics."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        state = torch.load(path / "maddpg.pt", weights_only=True)
        agent.actors.load_state_dict(state["actors"])
        agent.critics.load_state_dict(state["critics"])
        agent.actors_t.load_state_dict(state["actors"])
        agent.critics_t.load_state_dict(state["critics"])
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
