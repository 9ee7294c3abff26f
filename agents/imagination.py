"""The networks of imagination-augmented agents (Weber et al. 2017, "Imagination-Augmented Agents
for Deep Reinforcement Learning"), for vector observations and discrete actions.

- **Imagination core**: the learned dynamics ensemble (``agents.dynamics_model``; the mean
  over its members' mean predictions) and a small *rollout policy*. From an observation, one
  rollout per action ``a``: take ``a``, then the rollout policy's greedy action, for ``depth``
  steps; each imagined step gives (normalized next observation, reward, termination
  probability), zeroed after a predicted termination. The model is trained on real data
  only, never by the policy's loss (its outputs enter as data).
- **Rollout encoder**: a GRU reading each rollout's steps in reverse (last to first, as in
  the paper); its final state is the rollout's code; the codes of all actions are
  concatenated.
- **Model-free path**: a ReLU MLP of the observation.
- **Head**: policy logits and a value from the concatenation of both paths (the model-free
  path alone with ``imagination: false``, the ablation the paper compares against).

The rollout policy is distilled from the agent's policy (cross-entropy to its detached
action probabilities), as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.dynamics_model import DynamicsModel
from agents.sac_core import mlp


class I2ANet(nn.Module):
    """Model-free path, rollout encoder, rollout policy and the policy/value head."""

    def __init__(self, obs_dim: int, n_actions: int, net_arch: list[int], encoder_size: int, depth: int,
                 imagination: bool) -> None:
        super().__init__()
        self.obs_dim, self.n_actions, self.depth, self.imagination = obs_dim, n_actions, depth, imagination
        # net_arch []: the heads read the observation itself (no ReLU of raw features)
        self.model_free = nn.Sequential(mlp([obs_dim, *net_arch]), nn.ReLU()) if net_arch else nn.Identity()
        width = net_arch[-1] if net_arch else obs_dim
        if imagination:
            self.encoder = nn.GRU(obs_dim + 2, encoder_size, batch_first=True)
            self.rollout_policy = mlp([obs_dim, 32, n_actions])
            width += n_actions * encoder_size
        self.policy = nn.Linear(width, n_actions)
        self.value = nn.Linear(width, 1)

    def imagine(self, obs: torch.Tensor, model: DynamicsModel) -> torch.Tensor:
        """Imagined step features (B * n_actions, depth, obs_dim + 2), rollout ``a`` of row ``b`` at
        ``b * n_actions + a``; no gradient flows into the model or the rollout policy's choices."""
        b, a, e = len(obs), self.n_actions, model.members
        eye = torch.eye(a)
        with torch.no_grad():
            s = obs.repeat_interleave(a, dim=0)
            act = torch.arange(a).repeat(b)
            alive = torch.ones(len(s))
            steps = []
            for _ in range(self.depth):
                nxt, r, p_end = model.predict(s.expand(e, *s.shape), eye[act].expand(e, len(s), a))
                nxt, r, p_end = nxt.mean(0), r.mean(0), p_end.mean(0)
                scaled = (nxt - model.net.in_mean[: self.obs_dim]) / model.net.in_std[: self.obs_dim]
                steps.append(torch.cat([scaled, r[:, None], p_end[:, None]], dim=1) * alive[:, None])
                alive = alive * (p_end <= 0.5).float()
                s = torch.nan_to_num(nxt)
                act = self.rollout_policy(s).argmax(dim=1)
            return torch.nan_to_num(torch.stack(steps, dim=1))

    def forward(self, obs: torch.Tensor, model: DynamicsModel | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy logits (B, A) and values (B,) at observations ``obs`` (B, d)."""
        h = self.model_free(obs)
        if self.imagination:
            assert model is not None
            feats = self.imagine(obs, model).flip(1)  # the encoder reads the rollout backwards
            _, code = self.encoder(feats)
            h = torch.cat([h, code[0].reshape(len(obs), -1)], dim=1)
        return self.policy(h), self.value(h)[:, 0]
