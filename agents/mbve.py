"""``mbve``: model-based value expansion (Feinberg et al. 2018) on SAC.

The critic's target for a real transition ``(s, a, r, s')`` is expanded ``expansion_horizon``
(H) steps through the learned dynamics ensemble before bootstrapping: from ``s_1 = s'`` the
current actor picks ``a_k`` and the model (the mean over its members' means) predicts
``r_k``, ``s_(k+1)`` and termination, and

    y = r + sum_(k=1..H) gamma^k m_k (r_k - alpha log pi(a_k|s_k))
          + gamma^(H+1) m_(H+1) (min_j Q'_j(s_(H+1), a_(H+1)) - alpha log pi(a_(H+1)|s_(H+1)))

with ``m_k`` zero from the first (real or predicted) termination on. ``H = 0`` is exactly
the soft SAC target: the model-free base at the same settings (``--set expansion_horizon=0``;
the model is then never fitted). Actor and entropy updates are SAC's on real data. The model
is refitted in rounds as in ``agents.model_actor_critic``; its reward is learned (``reward:
known``: the task's own, ``scenarios.termination.reward_function``), and so is termination with
``termination: learned``, the default (``known``: the task's own termination of the predicted
mean observation, ``scenarios.termination``).
"""

from __future__ import annotations

import torch

from agents.model_actor_critic import AC_DEFAULTS, ModelActorCritic
from agents.model_based import known


class MBVE(ModelActorCritic):
    """SAC whose critic targets expand H steps through the learned model."""

    name = "mbve"
    DEFAULTS = {**AC_DEFAULTS, "expansion_horizon": 3}

    def needs_model(self) -> bool:
        """The model is used only for a positive horizon."""
        return self.hparams["expansion_horizon"] > 0

    def expanded_target(self, rew: torch.Tensor, next_obs: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        """The H-step model-expanded soft target of real transitions (no gradient)."""
        sac, gamma = self.sac, self.hparams["gamma"]
        e = self.hparams["ensemble_size"]
        with torch.no_grad():
            y, alive, s, discount = rew.clone(), 1.0 - term, next_obs, gamma
            for _ in range(self.hparams["expansion_horizon"]):
                a, logp = sac.sample(s, self.gen)
                nxt, r, p_end = self.model.predict(s.expand(e, *s.shape), a.expand(e, *a.shape))
                nxt, r, p_end = nxt.mean(0), r.mean(0), p_end.mean(0)
                if self.termination_fn is not None:
                    p_end = known(self.termination_fn, s, a, nxt)
                r = self.model_reward(s, a, nxt, r)
                y += discount * alive * (r - sac.alpha * logp)
                alive = alive * (p_end <= 0.5).float()
                s, discount = nxt, discount * gamma
            return y + discount * alive * sac.soft_value(s, self.gen)

    def train_step(self) -> None:
        """One SAC update on real data with the expanded critic target."""
        obs, act, rew, next_obs, term = self.real_batch(self.hparams["batch_size"])
        target = self.expanded_target(rew, next_obs, term) if self.needs_model() else None
        self.sac.update(obs, act, rew, next_obs, term, self.gen, target=target)
