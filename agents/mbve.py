"""``mbve``: model-based value expansion (Feinberg et al. 2018) on SAC.

The critic's target for a real transition ``(s, a, r, s')`` is expanded ``expansion_horizon``
(H) steps through the learned dynamics ensemble before bootstrapping: from ``s_1 = s'`` the
current actor picks ``a_k`` and the model (the mean over its members' means) predicts
``r_k``, ``s_(k+1)`` and termination, and

    y = r + sum_(k=1..H) gamma^k m_k (r_k - alpha log pi(a_k|s_k))
          + gamma^(H+1) m_(H+1) (min_j Q'_j(s_(H+1), a_(H+1)) - alpha log pi(a_(H+1)|s_(H+1)))

with ``m_k`` zero from the first (real or predicted) termination on. ``H = 0`` is exactly
the soft SAC target: the model-free base at the same settings (``--set expansion_horizon=0``;
the model is then never fitted). With ``td_k: true`` the critic is also fitted on the imagined
pairs ``(s_k, a_k)``, ``k = 1..H``, each towards its own tail of the same expansion
(``r_k + sum_(j>k) gamma^(j-k) (r_j - alpha log pi_j) + gamma^(H+1-k) V'(s_(H+1))``): Feinberg et
al.'s TD-k trick, which trains the critic on the states its expanded targets read (the paper's
remedy for the distribution mismatch that otherwise makes expansion hurt); the loss averages the
real and the still-running imagined rows alike. Actor and entropy updates are SAC's on real data.
The model is refitted in rounds as in ``agents.model_actor_critic``; its reward is learned
(``reward: known``: the task's own, ``scenarios.termination.reward_function``), and so is
termination with ``termination: learned``, the default (``known``: the task's own termination of
the predicted mean observation, ``scenarios.termination``).
"""

from __future__ import annotations

import torch

from agents.model_actor_critic import AC_DEFAULTS, ModelActorCritic
from agents.model_based import known


Rows = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""Imagined critic rows: observations, actions, targets and weights (1 while the branch is still
running, else 0); row ``k * B + i`` is model step ``k + 1`` of real transition ``i``."""


class MBVE(ModelActorCritic):
    """SAC whose critic targets expand H steps through the learned model."""

    name = "mbve"
    DEFAULTS = {**AC_DEFAULTS, "expansion_horizon": 3, "td_k": False}

    def needs_model(self) -> bool:
        """The model is used only for a positive horizon."""
        return self.hparams["expansion_horizon"] > 0

    def expand(self, rew: torch.Tensor, next_obs: torch.Tensor, term: torch.Tensor,
               rows: bool) -> tuple[torch.Tensor, Rows | None]:
        """Roll the model H steps from the real next states: the real pairs' expanded targets and,
        with ``rows`` (and H > 0), the imagined pairs with their own targets (no gradient)."""
        sac, gamma = self.sac, self.hparams["gamma"]
        e = self.hparams["ensemble_size"]
        states, actions, rewards, logps, conts = [], [], [], [], []
        with torch.no_grad():
            s = next_obs
            running = [1.0 - term]  # running[k]: whether model step k + 1 starts before any termination
            for _ in range(self.hparams["expansion_horizon"]):
                a, logp = sac.sample(s, self.gen)
                nxt, r, p_end = self.model.predict(s.expand(e, *s.shape), a.expand(e, *a.shape))
                nxt, r, p_end = nxt.mean(0), r.mean(0), p_end.mean(0)
                if self.termination_fn is not None:
                    p_end = known(self.termination_fn, s, a, nxt)
                states.append(s)
                actions.append(a)
                rewards.append(self.model_reward(s, a, nxt, r))
                logps.append(logp)
                conts.append((p_end <= 0.5).float())
                running.append(running[-1] * conts[-1])
                s = nxt
            soft = sac.soft_value(s, self.gen)  # soft value of the last state, then back to the first
            tails = []
            for k in reversed(range(len(states))):
                tails.append(rewards[k] + gamma * conts[k] * soft)
                soft = tails[-1] - sac.alpha * logps[k]
            target = rew + gamma * (1.0 - term) * soft
            if not (rows and states):
                return target, None
            return target, (torch.cat(states), torch.cat(actions), torch.cat(tails[::-1]), torch.cat(running[:-1]))

    def expanded_target(self, rew: torch.Tensor, next_obs: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        """The H-step model-expanded soft target of real transitions (no gradient)."""
        return self.expand(rew, next_obs, term, rows=False)[0]

    def train_step(self) -> None:
        """One SAC update on real data with the expanded critic target (and, with ``td_k``, the
        imagined pairs as extra critic rows)."""
        obs, act, rew, next_obs, term = self.real_batch(self.hparams["batch_size"])
        if not self.needs_model():
            self.sac.update(obs, act, rew, next_obs, term, self.gen)
            return
        target, extra = self.expand(rew, next_obs, term, rows=self.hparams["td_k"])
        self.sac.update(obs, act, rew, next_obs, term, self.gen, target=target, extra=extra)
