"""Differentiable views of trained policies, for attacks that need gradients.

``victim_of(agent, agent_id)`` returns a ``Victim`` built from the agent protocol's two
differentiable methods, so no attack switches on an agent's type:

- ``agent.policy_distribution(agent_id, obs)``: the action distribution at raw observations
  (N, d) (a Categorical for discrete actions; a Normal for stochastic continuous policies;
  a Normal of fixed small std around the action of a deterministic one), so the MAD
  objective KL(pi(.|s) || pi(.|s + delta)) is defined for all;
- ``agent.value(agent_id, obs)``: the critic's estimate V(s) (or Q(s, pi(s)), max_a Q(s, a)),
  for critic-based attacks; ``None`` here where the agent has no such critic (BC, DAgger,
  MAPPO's team critic).

Observation normalization is inside those methods, so gradients are taken with respect
to the raw observation. Gradients are asked for the observation only
(``torch.autograd.grad``): a victim's parameters and their ``.grad`` are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from scenarios import UserError


@dataclass
class Victim:
    """Differentiable policy and (if any) critic of one agent of a trained agent."""

    dist: Callable[[torch.Tensor], torch.distributions.Distribution]
    value: Callable[[torch.Tensor], torch.Tensor] | None


def differentiable_agents() -> list[str]:
    """The registered agents that expose ``policy_distribution`` (the ones gradient attacks apply to)."""
    import agents

    return [n for n in agents.list_names() if hasattr(agents.agent_class(n), "policy_distribution")]


def victim_of(agent: Any, agent_id: str) -> Victim:
    """The differentiable policy (and critic) of ``agent_id`` in a trained ``agent`` (see module doc)."""
    if not hasattr(agent, "policy_distribution"):
        raise UserError(f"attacks need a differentiable policy; {agent.name} has none "
                        f"(valid: {', '.join(differentiable_agents())})")
    probe = torch.zeros((1, int(np.prod(agent.scenario.observation_space(agent_id).shape))))
    agent.policy_distribution(agent_id, probe)  # refuses, in one line, what it cannot differentiate
    try:
        agent.value(agent_id, probe)
        value: Callable[[torch.Tensor], torch.Tensor] | None = lambda o: agent.value(agent_id, o)  # noqa: E731
    except UserError:
        value = None
    return Victim(dist=lambda o: agent.policy_distribution(agent_id, o), value=value)
