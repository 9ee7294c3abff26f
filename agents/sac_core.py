"""A torch Soft Actor-Critic update (Haarnoja et al. 2018, with SB3's choices) that other agents
compose: ``mbpo`` trains it on model rollouts, ``mbve`` on model-expanded critic targets.

Actions live in [-1, 1] (the composing agent scales them to the bounds): a ReLU MLP actor gives
the mean and log-std (clamped to [-20, 2]) of a Gaussian squashed by ``tanh`` (log-probability
corrected by ``log(1 - tanh(u)^2 + 1e-6)``); twin ReLU MLP critics on (observation, action)
with Polyak-averaged targets (``tau``); the entropy coefficient learned on its log towards
``-dim(A)``. One ``update`` steps, in SB3's order, the entropy coefficient, the critics on a
given target (by default the soft clipped-double-Q target), then the actor against the updated
critics. Randomness comes from the generator the caller passes, so a seed fixes it.

Two shortcuts that leave the arithmetic of every step as it was (same losses, same parameters
after each update): the entropy coefficient's gradient is set in closed form
(``-(log pi + target).mean()``) instead of backpropagated, and the critics' weights stop
requiring gradients while the actor's loss is backpropagated through them (it needs dQ/da
only). Together about 15% less time an update at Hopper's sizes (256 x 256, batch 256, one
thread: ``benchmarks/sac_updates.py``, recorded in ``benchmarks/RESULTS.md``). Stacking the
twin critics into batched products was measured slower on this CPU (3.6-4.0 against 3.1-3.5 ms for
their forward and backward).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def mlp(sizes: list[int]) -> nn.Sequential:
    """A ReLU MLP through ``sizes`` (no activation after the last layer)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SACCore:
    """Actor, twin critics, their targets, the entropy coefficient and their optimizers."""

    def __init__(self, obs_dim: int, act_dim: int, net_arch: list[int], learning_rate: float = 3e-4,
                 gamma: float = 0.99, tau: float = 0.005, seed: int = 0) -> None:
        torch.manual_seed(seed)  # the initial weights (the caller's seed); sampling uses explicit generators
        self.act_dim, self.gamma, self.tau = act_dim, gamma, tau
        self.actor = mlp([obs_dim, *net_arch, 2 * act_dim])
        self.critics = nn.ModuleList(mlp([obs_dim + act_dim, *net_arch, 1]) for _ in range(2))
        self.targets = copy.deepcopy(self.critics)
        self.log_alpha = nn.Parameter(torch.zeros(1))
        self.target_entropy = -float(act_dim)
        # fused Adam: several times faster a step than the default on CPU for networks this small
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=learning_rate, fused=True)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=learning_rate, fused=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=learning_rate, fused=True)
        self._critic_params, self._target_params = list(self.critics.parameters()), list(self.targets.parameters())

    def sample(self, obs: torch.Tensor, gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """A squashed action and its log-probability (the mean's ``tanh`` and 0 without ``gen``)."""
        out = self.actor(obs)
        mean, log_std = out[:, : self.act_dim], out[:, self.act_dim :].clamp(LOG_STD_MIN, LOG_STD_MAX)
        if gen is None:
            return torch.tanh(mean), torch.zeros(len(obs))
        eps = torch.randn(mean.shape, generator=gen)
        a = torch.tanh(mean + log_std.exp() * eps)
        logp = (-0.5 * eps.pow(2) - log_std - 0.9189385332046727).sum(1) - torch.log(1 - a.pow(2) + 1e-6).sum(1)
        return a, logp

    @property
    def alpha(self) -> torch.Tensor:
        """The entropy coefficient (detached)."""
        return self.log_alpha.detach().exp()

    def q_min(self, nets: nn.ModuleList, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """The smaller of the twin values of ``nets`` at (obs, act)."""
        x = torch.cat([obs, act], dim=1)
        return torch.minimum(nets[0](x)[:, 0], nets[1](x)[:, 0])

    def soft_value(self, obs: torch.Tensor, gen: torch.Generator, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """The target critics' soft value ``min Q'(s, a') - alpha log pi(a'|s)``, a' drawn from the actor
        (``alpha``: the current entropy coefficient unless given)."""
        a, logp = self.sample(obs, gen)
        return self.q_min(self.targets, obs, a) - (self.alpha if alpha is None else alpha) * logp

    def update(self, obs: torch.Tensor, act: torch.Tensor, rew: torch.Tensor, next_obs: torch.Tensor,
               term: torch.Tensor, gen: torch.Generator, target: torch.Tensor | None = None,
               extra: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> dict[str, float]:
        """One SAC step on a batch; ``target`` replaces the one-step soft target where given, and
        ``extra`` = (observations, actions, targets, weights) adds critic rows: the critic loss is
        then the weighted mean over the batch's rows (weight 1) and these."""
        a_pi, logp = self.sample(obs, gen)
        alpha = self.alpha  # the coefficient before its step, in this step's targets and actor loss (as SB3)
        # -(log_alpha * (logp + target)).mean() has the gradient -(logp + target).mean(): set, not backpropagated
        self.log_alpha.grad = -(logp.detach() + self.target_entropy).mean().reshape(1)
        self.alpha_opt.step()
        if target is None:
            with torch.no_grad():
                target = rew + self.gamma * (1.0 - term) * self.soft_value(next_obs, gen, alpha)
        x = torch.cat([obs, act], dim=1)
        weights = None
        if extra is not None:
            x = torch.cat([x, torch.cat([extra[0], extra[1]], dim=1)])
            target = torch.cat([target, extra[2]])
            weights = torch.cat([torch.ones(len(obs)), extra[3]])
            weights = weights / weights.sum()
        errors = [(c(x)[:, 0] - target) ** 2 for c in self.critics]
        critic_loss = 0.5 * sum(e.mean() if weights is None else (weights * e).sum() for e in errors)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        for p in self._critic_params:  # the actor's loss needs dQ/da, not the critics' weight gradients
            p.requires_grad_(False)
        actor_loss = (alpha * logp - self.q_min(self.critics, obs, a_pi)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        for p in self._critic_params:
            p.requires_grad_(True)
        self.actor_opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self._target_params, self._critic_params, self.tau)
        return {"critic_loss": float(critic_loss.detach()), "actor_loss": float(actor_loss.detach()),
                "ent_coef": float(self.alpha)}

    def state_dict(self) -> dict[str, Any]:
        """Networks, targets, entropy coefficient and optimizer states."""
        return {"actor": self.actor.state_dict(), "critics": self.critics.state_dict(), "targets": self.targets.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``'s output."""
        self.actor.load_state_dict(state["actor"])
        self.critics.load_state_dict(state["critics"])
        self.targets.load_state_dict(state["targets"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for key in ("actor_opt", "critic_opt", "alpha_opt"):
            getattr(self, key).load_state_dict(state[key])
