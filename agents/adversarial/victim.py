"""Differentiable views of trained policies, for attacks that need gradients.

``victim_of(agent)`` returns a ``Victim`` with, for one agent id:

- ``dist(obs)``: the policy's action distribution for raw observations (N, d)
  (a Categorical for discrete actions; a Normal for stochastic continuous
  policies; a Normal of fixed small std around the action of a deterministic
  one), so the MAD objective KL(pi(.|s) || pi(.|s + delta)) is defined for all;
- ``value(obs)``: the critic's estimate V(s) (or Q(s, pi(s)) for SAC/TD3/DDPG,
  max_a Q(s, a) for DQN), for critic-based attacks.

Observation normalization (SB3's VecNormalize, BC's standardization) is part
of the graph, so gradients are taken with respect to the raw observation.
Supported: SB3-backed agents (single-agent or full sharing), ``bc``/``dagger``,
``gail``/``airl``, ``mappo``/``ippo`` and ``adv_ppo``. Gradients flow to the
observation only: parameters are frozen for the duration of an attack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from scenarios import UserError

DETERMINISTIC_STD = 0.1


@dataclass
class Victim:
    """Differentiable policy and critic of one agent of a trained agent."""

    dist: Callable[[torch.Tensor], torch.distributions.Distribution]
    value: Callable[[torch.Tensor], torch.Tensor] | None
    modules: list[torch.nn.Module]

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Parameters do not require gradients inside; restored afterwards."""
        params = [p for m in self.modules for p in m.parameters()]
        flags = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, f in zip(params, flags):
                p.requires_grad_(f)


def _sb3_victim(model: Any, vecnorm: Any) -> Victim:
    policy = model.policy

    def norm(obs: torch.Tensor) -> torch.Tensor:
        if vecnorm is None or not vecnorm.norm_obs:
            return obs
        mean = torch.as_tensor(vecnorm.obs_rms.mean, dtype=torch.float32)
        var = torch.as_tensor(vecnorm.obs_rms.var, dtype=torch.float32)
        return torch.clamp((obs - mean) / torch.sqrt(var + vecnorm.epsilon), -vecnorm.clip_obs, vecnorm.clip_obs)

    name = type(model).__name__
    if name in ("PPO", "A2C", "TRPO"):
        dist = lambda o: policy.get_distribution(norm(o)).distribution  # noqa: E731
        value = lambda o: policy.predict_values(norm(o))[:, 0]  # noqa: E731
    elif name in ("SAC", "TQC"):
        def dist(o: torch.Tensor) -> torch.distributions.Distribution:
            mean, log_std, _ = policy.actor.get_action_dist_params(norm(o))
            return torch.distributions.Normal(torch.tanh(mean), DETERMINISTIC_STD * torch.ones_like(mean))

        def value(o: torch.Tensor) -> torch.Tensor:
            x = norm(o)
            q = policy.critic(x, policy.actor(x, deterministic=True))
            q = q[0] if isinstance(q, tuple) else q
            return q.reshape(len(x), -1).mean(1)
    elif name in ("TD3", "DDPG"):
        dist = lambda o: torch.distributions.Normal(policy.actor(norm(o)), DETERMINISTIC_STD)  # noqa: E731
        value = lambda o: policy.critic.q1_forward(norm(o), policy.actor(norm(o)))[:, 0]  # noqa: E731
    elif name in ("DQN", "QRDQN"):
        def q_values(o: torch.Tensor) -> torch.Tensor:
            q = policy.q_net(norm(o)) if name == "DQN" else policy.quantile_net(norm(o)).mean(1)
            return q

        dist = lambda o: torch.distributions.Categorical(logits=q_values(o))  # noqa: E731
        value = lambda o: q_values(o).max(1).values  # noqa: E731
    else:
        raise UserError(f"attacks do not support SB3 {name} victims")
    return Victim(dist=dist, value=value, modules=[policy])


def victim_of(agent: Any, agent_id: str) -> Victim:
    """The differentiable policy of ``agent_id`` in a trained ``agent`` (see module doc)."""
    if getattr(agent, "model", None) is not None and hasattr(agent.model, "policy") and getattr(agent, "groups", None) is None:
        return _sb3_victim(agent.model, getattr(agent, "vecnorm", None))
    bc = getattr(agent, "bc", agent)
    if hasattr(bc, "nets") and bc.__class__.__name__ == "BehaviouralCloning":
        g, net = next((g, n) for g, n in zip(bc.groups, bc.nets) if agent_id in g.agents)
        if g.use_id:
            raise UserError("attacks on shared-parameter BC groups are not supported (train with sharing=none)")
        if g.discrete:
            return Victim(dist=lambda o: torch.distributions.Categorical(logits=net(o)), value=None, modules=[net])
        return Victim(dist=lambda o: torch.distributions.Normal(net(o), DETERMINISTIC_STD), value=None, modules=[net])
    if hasattr(agent, "nets") and hasattr(agent, "critic_default"):
        gi = next(i for i, g in enumerate(agent.groups) if agent_id in g.agents)
        g, net = agent.groups[gi], agent.nets[gi]
        if g.use_id or net.actor.gru is not None:
            raise UserError("attacks support feed-forward, per-agent MAPPO/IPPO actors (sharing=none, recurrent=false)")
        def dist(o: torch.Tensor) -> torch.distributions.Distribution:
            z, _ = net.actor.step(o.reshape(len(o), -1), net.actor.initial(len(o)))
            return net.head.dist(z)
        return Victim(dist=dist, value=None, modules=[net])
    raise UserError(f"attacks need a differentiable policy; {agent.name} is not supported "
                    "(valid: SB3-backed agents, bc, dagger, gail, airl, adv_ppo, mappo, ippo)")
