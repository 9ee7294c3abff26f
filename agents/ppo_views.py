"""The policy views of a method built around the ``ppo`` agent (adv_ppo, GAIL/AIRL, ADR, RARL's
protagonist): its differentiable policy and critic are the PPO part's, held as ``self.ppo``."""

from __future__ import annotations

from typing import Any

import torch

from agents.base import NotTrained


class PPOViews:
    """``policy_distribution`` and ``value`` of ``self.ppo`` (a trained or loaded PPO part), for the
    attacks; a method that has neither trained nor loaded it is refused in one line."""

    name: str
    ppo: Any
    composes = "ppo"
    """The agent this method is built around: ``ppo.yaml``'s entry for a scenario is its default
    there too (``hyperparams.tuned_defaults``), so ``describe`` and the pair checks see what it trains with."""

    def _require_trained(self) -> None:
        if self.ppo.model is None:
            raise NotTrained(self.name)

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d)."""
        self._require_trained()
        return self.ppo.policy_distribution(agent, obs)

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The critic's differentiable estimate for ``agent`` at raw observations ``obs`` (N, d)."""
        self._require_trained()
        return self.ppo.value(agent, obs)
