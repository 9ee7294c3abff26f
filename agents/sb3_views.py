"""Differentiable views of a Stable-Baselines3 model: its action distribution and its value
for raw observations, with VecNormalize's observation normalization inside the graph (so a
gradient is taken with respect to the raw observation).

Every agent built on an SB3 model (``ppo``, ``sac``..., ``adv_ppo``, ``gail``/``airl``,
``rarl``'s protagonist, ``adr``) answers the protocol's ``policy_distribution`` and ``value``
through these two functions:

- PPO / A2C / TRPO: the policy's distribution and ``V(s)``;
- SAC / TQC: a Normal of fixed small std around the squashed mean action, and ``Q(s, pi(s))``
  (the mean over the critics);
- TD3 / DDPG: a Normal of fixed small std around the deterministic action, and ``Q1(s, pi(s))``;
- DQN / QR-DQN: a Categorical over the Q-values (the mean over quantiles), and ``max_a Q(s, a)``.

A deterministic policy gets a Normal of std ``DETERMINISTIC_STD`` so that the KL divergence
between two of its distributions (the MAD attack objective) is defined.
"""

from __future__ import annotations

from typing import Any

import torch

from agents.base import NotTrained
from scenarios import UserError

DETERMINISTIC_STD = 0.1


def _normalize(vecnorm: Any, obs: torch.Tensor) -> torch.Tensor:
    if vecnorm is None or not vecnorm.norm_obs:
        return obs
    mean = torch.as_tensor(vecnorm.obs_rms.mean, dtype=torch.float32)
    var = torch.as_tensor(vecnorm.obs_rms.var, dtype=torch.float32)
    return torch.clamp((obs - mean) / torch.sqrt(var + vecnorm.epsilon), -vecnorm.clip_obs, vecnorm.clip_obs)


def sb3_distribution(model: Any, vecnorm: Any, obs: torch.Tensor) -> torch.distributions.Distribution:
    """The action distribution of an SB3 ``model`` at raw observations ``obs`` (N, d)."""
    policy, name, x = model.policy, type(model).__name__, _normalize(vecnorm, obs)
    if name in ("PPO", "A2C", "TRPO"):
        return policy.get_distribution(x).distribution
    if name in ("SAC", "TQC"):
        mean, _log_std, _ = policy.actor.get_action_dist_params(x)
        return torch.distributions.Normal(torch.tanh(mean), DETERMINISTIC_STD * torch.ones_like(mean))
    if name in ("TD3", "DDPG"):
        return torch.distributions.Normal(policy.actor(x), DETERMINISTIC_STD)
    if name in ("DQN", "QRDQN"):
        return torch.distributions.Categorical(logits=_q_values(policy, name, x))
    raise UserError(f"no differentiable view of SB3 {name} policies")


def sb3_value(model: Any, vecnorm: Any, obs: torch.Tensor) -> torch.Tensor:
    """The critic's estimate at raw observations ``obs`` (N, d): ``V``, ``Q(s, pi(s))`` or ``max_a Q``."""
    policy, name, x = model.policy, type(model).__name__, _normalize(vecnorm, obs)
    if name in ("PPO", "A2C", "TRPO"):
        return policy.predict_values(x)[:, 0]
    if name in ("SAC", "TQC"):
        q = policy.critic(x, policy.actor(x, deterministic=True))
        q = q[0] if isinstance(q, tuple) else q
        return q.reshape(len(x), -1).mean(1)
    if name in ("TD3", "DDPG"):
        return policy.critic.q1_forward(x, policy.actor(x))[:, 0]
    if name in ("DQN", "QRDQN"):
        return _q_values(policy, name, x).max(1).values
    raise UserError(f"no differentiable view of SB3 {name} critics")


def _q_values(policy: Any, name: str, x: torch.Tensor) -> torch.Tensor:
    return policy.q_net(x) if name == "DQN" else policy.quantile_net(x).mean(1)


def require_trained(model: Any, name: str) -> Any:
    """``model``, or one UserError line when the agent has not been trained or loaded yet."""
    if model is None:
        raise NotTrained(name)
    return model
