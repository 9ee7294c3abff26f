"""Behavioural cloning: supervised regression of the expert's actions on its observations.

Discrete actions: cross-entropy on logits. Continuous actions: mean squared
error of a tanh-squashed output rescaled to the action bounds. Observations are
standardized with the dataset's mean and standard deviation (saved with the
checkpoint). Multi-agent datasets train one network per parameter-sharing group
(``sharing``: ``none`` for per-agent BC, ``group`` or ``full``; see
``agents.marl.groups``), each on its own agents' observations only.

``learn(steps)`` takes ``steps`` gradient steps (minibatches of ``batch_size``);
with ``steps=0`` it trains ``epochs`` passes over the dataset. The data come
from ``dataset=PATH`` (a file written by ``testbed demos record``) or, for
DAgger, from ``fit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agents import hyperparams
from agents.sb3_views import DETERMINISTIC_STD
from agents.base import Capabilities, ProgressFn, TableHyperparameters
from agents.checkpoint import save_meta
from agents.imitation import dataset as demos
from agents.marl.groups import Group, make_groups
from agents.marl.nets import mlp_head
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

DEFAULTS: dict[str, Any] = {"dataset": None, "epochs": 50, "batch_size": 256, "learning_rate": 1e-3,
                            "net_arch": [256, 256], "sharing": "group", "weight_decay": 0.0, "torch_threads": 1}


class PolicyNet(nn.Module):
    """Standardized observations -> logits (discrete) or bounded actions (continuous)."""

    def __init__(self, g: Group, net_arch: list[int]) -> None:
        super().__init__()
        self.discrete = g.discrete
        self.body = mlp_head(g.in_dim, net_arch, g.act_dim, nn.ReLU)
        self.register_buffer("mean", torch.zeros(g.in_dim))
        self.register_buffer("std", torch.ones(g.in_dim))
        low = torch.zeros(g.act_dim) if g.discrete else torch.as_tensor(np.asarray(g.act_space.low, np.float32).ravel())
        high = torch.ones(g.act_dim) if g.discrete else torch.as_tensor(np.asarray(g.act_space.high, np.float32).ravel())
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, or actions within the bounds."""
        out = self.body((x - self.mean) / self.std)
        if self.discrete:
            return out
        return self.low + (torch.tanh(out) + 1) * 0.5 * (self.high - self.low)


class BehaviouralCloning(TableHyperparameters):
    """Behavioural cloning of a demonstration dataset (discrete or continuous; per-agent groups)."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "bc"
    capabilities = Capabilities(multi_agent="any", learning="offline")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                               DEFAULTS)
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.groups = make_groups(scenario, h["sharing"], agent_id=True)
        self.nets = nn.ModuleList(PolicyNet(g, list(h["net_arch"])) for g in self.groups)
        self.opts = [torch.optim.Adam(n.parameters(), lr=h["learning_rate"], weight_decay=h["weight_decay"])
                     for n in self.nets]
        self.steps_trained = 0
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if h["dataset"]:
            ds = demos.load(h["dataset"], scenario)
            self.data = {a: ds.transitions(a)[:2] for a in ds.agents}
            self._standardize()

    def set_data(self, obs: dict[str, np.ndarray], actions: dict[str, np.ndarray]) -> None:
        """Replace the training data (per agent) and refit the standardization."""
        self.data = {a: (np.asarray(obs[a]), np.asarray(actions[a])) for a in obs}
        self._standardize()

    def _inputs(self, g: Group) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.data[g.agents[0]][0])
        x = g.inputs({a: self.data[a][0] for a in g.agents}).reshape(n * len(g.agents), -1)
        y = np.stack([self.data[a][1] for a in g.agents], axis=1).reshape(n * len(g.agents), *self.data[g.agents[0]][1].shape[1:])
        return x, y

    def _standardize(self) -> None:
        for g, net in zip(self.groups, self.nets):
            x, _ = self._inputs(g)
            net.mean.copy_(torch.as_tensor(x.mean(0)))
            net.std.copy_(torch.as_tensor(x.std(0) + 1e-6))

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """``steps`` gradient steps per group (``epochs`` passes over the data when 0)."""
        if not self.data:
            raise UserError(f"{self.name} needs demonstrations: --set dataset=PATH (from 'testbed demos record')")
        h = self.hparams
        bs = h["batch_size"]
        for g, net, opt in zip(self.groups, self.nets, self.opts):
            x, y = self._inputs(g)
            total = steps or max(1, h["epochs"] * int(np.ceil(len(x) / bs)))
            xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
            yt = yt.long() if g.discrete else yt.float().reshape(len(yt), -1)
            for k in range(total):
                idx = torch.as_tensor(self.rng.integers(0, len(x), size=min(bs, len(x))))
                out = net(xt[idx])
                loss = nn.functional.cross_entropy(out, yt[idx]) if g.discrete else nn.functional.mse_loss(out, yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if progress and k % 100 == 0:
                    progress(k, total)
        self.steps_trained += steps

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The cloned policy's action per agent, from its own observation."""
        out: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for g, net in zip(self.groups, self.nets):
                x = g.inputs(obs)
                n, k = x.shape[:2]
                y = net(torch.as_tensor(x.reshape(n * k, -1)))
                if g.discrete:
                    y = y.argmax(-1) if deterministic else torch.distributions.Categorical(logits=y).sample()
                y = y.numpy().reshape(n, k, *g.act_space.shape)
                for j, a in enumerate(g.agents):
                    out[a] = y[:, j].astype(np.int64) if g.discrete else y[:, j].astype(np.float32)
        return out

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d).: logits, or a
        Normal of std ``DETERMINISTIC_STD`` around the cloned (deterministic) action."""
        g, net = next((g, n) for g, n in zip(self.groups, self.nets) if agent in g.agents)
        if g.use_id:
            raise UserError(f"{self.name}: a shared-parameter group's policy needs the agent id (train with sharing=none)")
        out = net(obs)
        return torch.distributions.Categorical(logits=out) if g.discrete else torch.distributions.Normal(out, DETERMINISTIC_STD)

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """Behavioural cloning learns no critic."""
        raise UserError(f"{self.name} learns no value function")

    def save(self, path: str | Path) -> Path:
        """Write ``bc.pt`` (networks and standardization) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.nets.state_dict(), path / "bc.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> BehaviouralCloning:
        """Restore the networks (the dataset is not needed to act)."""
        agent = cls(scenario, seed=meta.get("seed"), **{**meta["hparams"], "dataset": None})
        agent.hparams["dataset"] = meta["hparams"].get("dataset")
        agent.nets.load_state_dict(torch.load(path / "bc.pt", weights_only=True))
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
