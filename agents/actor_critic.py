"""The actor-critic network the parallel learners (A3C, IMPALA) share, the lane view of a
scenario that lets one network act for every agent of every copy, and ``LanePolicy``, the
set-up and acting both learners have in common.

``ActorCritic`` is two tanh MLPs, a policy (categorical logits, or a diagonal Gaussian's
mean with a state-independent log std) and a value. ``Lanes`` turns the vectorized face's
``dict[agent, (N, ...)]`` into one batch of A x N rows (agent-major), with an optional
one-hot agent id appended, so single-agent scenarios (A = 1) and cooperative multi-agent
ones (parameter sharing, as in MAPPO's shared policy) run through the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents.base import TableHyperparameters
from agents import hyperparams, training_state
from agents.observations import accepts_unbatched
from agents.reinforce import mlp
from scenarios import UserError
from scenarios.goals import flatten, flatten_space, is_goal_space

OPTIMIZERS = ("adam", "rmsprop")


def entropy_coef(value: Any, discrete: bool, name: str) -> float:
    """``ent_coef``: a number, or ``auto`` - 0.01 for discrete actions, 1e-4 for continuous ones,
    the entropy costs of the A3C paper (Atari, and its MuJoCo experiments, supplement 9)."""
    if value == "auto":
        return 0.01 if discrete else 1e-4
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise UserError(f"{name}: ent_coef must be a number or 'auto', got {value!r}")


class ActorCritic(nn.Module):
    """Policy and value MLPs over flat observations; Discrete or Box actions."""

    def __init__(self, n_in: int, action_space: spaces.Space, net_arch: list[int], log_std_init: float = 0.0) -> None:
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        n_out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.pi = mlp(n_in, n_out, net_arch)
        self.v = mlp(n_in, 1, net_arch)
        self.log_std = None if self.discrete else nn.Parameter(torch.full((n_out,), float(log_std_init)))

    def dist(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The action distribution at ``obs`` (B, n_in)."""
        out = self.pi(obs)
        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Independent(torch.distributions.Normal(out, self.log_std.exp()), 1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(obs), shape (B,)."""
        return self.v(obs)[:, 0]

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        """The most likely action (argmax, or the Gaussian's mean)."""
        out = self.pi(obs)
        return out.argmax(dim=1) if self.discrete else out


def worker_state(vec: Any, obs: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """A parallel learner's worker's copies mid-episode, their observations and its sampling generator, as
    ``agents.training_state`` data for its next call; None where the copies' state cannot be saved (Box2D:
    sisl/multiwalker), so the next call starts new episodes (a3c and impala share it)."""
    try:
        return training_state.capture({"vec": vec, "obs": obs, "rng": torch.get_rng_state()})
    except UserError:
        return None


ENCODED = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
"""Observation spaces a lane row can hold: Box as is; Discrete and MultiDiscrete one-hot (per component), MultiBinary
as 0/1 floats: what SB3's ``preprocess_obs`` feeds its networks, so toy-text tasks train as with ``ppo``."""


def encoded_width(space: spaces.Space) -> int:
    """The row width of observations of ``space`` (one of ``ENCODED``)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    return int(np.prod(space.shape))


def encode(space: spaces.Space, value: Any) -> np.ndarray:
    """A batch of observations of ``space`` as (N, ``encoded_width``) float32 rows."""
    if isinstance(space, spaces.Discrete):
        index = np.asarray(value, np.int64).reshape(-1) - int(space.start)
        return np.eye(int(space.n), dtype=np.float32)[index]
    if isinstance(space, spaces.MultiDiscrete):
        parts = np.asarray(value, np.int64).reshape(-1, space.nvec.size) - np.asarray(space.start).reshape(-1)
        nvec = np.asarray(space.nvec).reshape(-1)
        return np.concatenate([np.eye(int(n), dtype=np.float32)[parts[:, j]] for j, n in enumerate(nvec)], axis=1)
    x = np.asarray(value, np.float32)
    return x.reshape(len(x), -1)


class Lanes:
    """Every (agent, copy) pair of a vectorized scenario as one row of a shared-parameter batch."""

    def __init__(self, scenario: Any, name: str, agent_id: bool) -> None:
        self.agents = list(scenario.possible_agents)
        obs_spaces = {a: scenario.observation_space(a) for a in self.agents}
        act_spaces = {a: scenario.action_space(a) for a in self.agents}
        first = self.agents[0]
        # goal-conditioned Dicts become flat rows (``scenarios.goals.flatten``); check_support admits
        # them only for learners that declare ``goal_observations``
        self.goal_spaces = {a: s for a, s in obs_spaces.items() if is_goal_space(s)}
        obs_spaces = {a: flatten_space(s) if a in self.goal_spaces else s for a, s in obs_spaces.items()}
        for a in self.agents:
            if not isinstance(obs_spaces[a], ENCODED):
                raise UserError(f"{name} needs Box, Discrete, MultiDiscrete or MultiBinary observations; "
                                f"{scenario.id} {a} has {obs_spaces[a]}")
            if not isinstance(act_spaces[a], (spaces.Discrete, spaces.Box)):
                raise UserError(f"{name} needs Discrete or Box actions; {scenario.id} {a} has {act_spaces[a]}")
            boxes = isinstance(obs_spaces[a], spaces.Box) and isinstance(obs_spaces[first], spaces.Box)
            same = obs_spaces[a].shape == obs_spaces[first].shape if boxes else obs_spaces[a] == obs_spaces[first]
            if not same or act_spaces[a] != act_spaces[first]:
                raise UserError(f"{name} shares one network across agents, so their spaces must match; "
                                f"{scenario.id} {a} differs from {first}")
        self.action_space = act_spaces[first]
        self.discrete = isinstance(self.action_space, spaces.Discrete)
        self.agent_id = agent_id and len(self.agents) > 1
        self.obs_spaces = obs_spaces
        self.n_in = encoded_width(obs_spaces[first]) + (len(self.agents) if self.agent_id else 0)

    def obs(self, obs: dict[str, np.ndarray]) -> torch.Tensor:
        """(A * N, n_in) float32 rows, agent-major, with the agent's one-hot id if asked for."""
        rows = []
        for k, a in enumerate(self.agents):
            value = flatten(self.goal_spaces[a], obs[a]) if a in self.goal_spaces else obs[a]
            x = encode(self.obs_spaces[a], value)
            if self.agent_id:
                hot = np.zeros((len(x), len(self.agents)), np.float32)
                hot[:, k] = 1.0
                x = np.concatenate([x, hot], axis=1)
            rows.append(x)
        return torch.as_tensor(np.concatenate(rows))

    def stack(self, per_agent: dict[str, np.ndarray], dtype: Any = np.float32) -> np.ndarray:
        """Per-agent (N,) arrays (rewards, flags) as one (A * N,) array in lane order."""
        return np.concatenate([np.asarray(per_agent[a], dtype) for a in self.agents])

    def split(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Lane actions back to ``dict[agent, (N, ...)]``, clipped to a Box's bounds."""
        if not self.discrete:
            actions = np.clip(actions, self.action_space.low, self.action_space.high).astype(np.float32)
        return dict(zip(self.agents, np.split(actions, len(self.agents))))

    def final_obs(self, infos: list[dict[str, Any]], lanes: np.ndarray) -> torch.Tensor:
        """The true last observations of ``lanes`` (their copies just ended and were reset)."""
        n, m = len(infos), len(lanes)
        if m == 0:
            return torch.zeros((0, self.n_in))
        copies = [int(lane) % n for lane in lanes]
        per_agent = {a: self._stack([infos[i]["final_observation"][a] for i in copies]) for a in self.agents}
        rows = self.obs(per_agent)  # agent-major over the m copies: keep each lane's own agent
        return rows[[(int(lane) // n) * m + j for j, lane in enumerate(lanes)]]

    @staticmethod
    def _stack(values: list[Any]) -> Any:
        """One observation per copy as a batch (a dict of batches for goal Dicts)."""
        if isinstance(values[0], dict):
            return {k: np.stack([np.asarray(v[k]) for v in values]) for k in values[0]}
        return np.stack([np.asarray(v) for v in values])


class LanePolicy(TableHyperparameters):
    """Set-up, acting and the differentiable views of a learner whose one ``ActorCritic``
    acts for every lane (the base of ``a3c`` and ``impala``; their ``DEFAULTS`` differ)."""

    name: str
    DEFAULTS: dict[str, Any]
    POSITIVE: tuple[str, ...] = ()

    @classmethod
    def check_scenario(cls, scenario: Any, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario whose agents one shared network cannot serve (``Lanes``: Box
        observations, Discrete or Box actions, the same spaces for every agent)."""
        Lanes(scenario, cls.name, h.get("agent_id", True))

    def _setup(self, scenario: Any, seed: int | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Resolve and check the hyperparameters, build the lanes and the network; returns them."""
        self.scenario, self.seed = scenario, seed
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                               self.DEFAULTS)
        if h["optimizer"] not in OPTIMIZERS:
            raise UserError(f"{self.name}: unknown optimizer '{h['optimizer']}' (valid: {', '.join(OPTIMIZERS)})")
        for key in self.POSITIVE:
            if h[key] < 1:
                raise UserError(f"{self.name}: {key} must be >= 1, got {h[key]}")
        self.lanes = Lanes(scenario, self.name, h["agent_id"])
        self.ent_coef = entropy_coef(h["ent_coef"], self.lanes.discrete, self.name)
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        self.model = ActorCritic(self.lanes.n_in, self.lanes.action_space, list(h["net_arch"]), h["log_std_init"])
        self.steps_trained = 0
        self.history: list[dict[str, float]] = []
        return h

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The mode (deterministic) or a sample of the shared policy, for every agent and copy."""
        with torch.no_grad():
            x = self.lanes.obs(obs)
            a = self.model.mode(x) if deterministic else self.model.dist(x).sample()
        return self.lanes.split(a.numpy())

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d)."""
        return self.model.dist(self._rows(agent, obs))

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The critic's differentiable estimate for ``agent`` at raw observations ``obs`` (N, d)."""
        return self.model.value(self._rows(agent, obs))

    def _rows(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(len(obs), -1)
        if self.lanes.agent_id:
            hot = torch.zeros((len(x), len(self.lanes.agents)))
            hot[:, self.lanes.agents.index(agent)] = 1.0
            x = torch.cat([x, hot], dim=1)
        return x
