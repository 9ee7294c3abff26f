"""``mbpo``: model-based policy optimization (Janner et al. 2019).

SAC (``agents.sac_core``) trained mostly on short rollouts of the learned dynamics ensemble
branched from real states. After every model refit (each ``round_steps`` real steps, see
``agents.model_actor_critic``), ``rollout_batch`` real observations are drawn from the real
data and rolled ``rollout_length`` steps under the current policy, each step through one
randomly chosen ensemble member sampling its Gaussian; a branch stops where the model predicts
termination (probability above 0.5). These imagined transitions replace the previous round's
(the official code's ``model_retain_epochs: 1``). Each SAC minibatch then takes the fraction
``real_ratio`` of its rows from the real data and the rest from the imagined ones, with
``gradient_steps`` updates per real step (MBPO's update-to-data ratio; the paper used 20-40,
the default here is lower for a CPU). The reward is the model's, learned; so is termination
with ``termination: learned`` (the default), while ``known`` ends a branch where the task's own
function of the predicted observation does (``scenarios.termination``).
"""

from __future__ import annotations

from typing import Any

import torch

from agents.model_actor_critic import AC_DEFAULTS, ModelActorCritic
from agents.model_based import known

FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated")


class MBPO(ModelActorCritic):
    """SAC on branched model rollouts."""

    name = "mbpo"
    DEFAULTS = {**AC_DEFAULTS, "rollout_length": 1, "rollout_batch": 5000, "real_ratio": 0.05, "gradient_steps": 10}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.imagined: dict[str, torch.Tensor] = {f: torch.zeros(0) for f in FIELDS}

    def after_fit(self) -> None:
        """Branch ``rollout_batch`` model rollouts of ``rollout_length`` steps from real states."""
        h = self.hparams
        e = h["ensemble_size"]
        obs = self.real_batch(h["rollout_batch"])[0]
        alive = torch.ones(len(obs), dtype=torch.bool)
        rows: dict[str, list[torch.Tensor]] = {f: [] for f in FIELDS}
        with torch.no_grad():
            for _ in range(h["rollout_length"]):
                act, _ = self.sac.sample(obs, self.gen)
                member = torch.randint(0, e, (len(obs),), generator=self.gen)
                nxt, rew, p_end = self.model.predict(obs.expand(e, *obs.shape), act.expand(e, *act.shape), self.gen)
                pick = torch.arange(len(obs))
                nxt, rew, done = nxt[member, pick], rew[member, pick], (p_end[member, pick] > 0.5).float()
                if self.termination_fn is not None:
                    done = known(self.termination_fn, obs, act, nxt)
                rew = self.model_reward(obs, act, nxt, rew)
                ok = alive & torch.isfinite(nxt).all(dim=1) & torch.isfinite(rew)
                for f, v in zip(FIELDS, (obs, act, rew, nxt, done)):
                    rows[f].append(v[ok])
                alive = ok & (done == 0)
                obs = nxt
                if not alive.any():
                    break
        self.imagined = {f: torch.cat(v) for f, v in rows.items()}

    def train_step(self) -> None:
        """One SAC update on a minibatch of ``real_ratio`` real and imagined rows."""
        h = self.hparams
        size = h["batch_size"]
        n_img = len(self.imagined["obs"])
        n_real = size if n_img == 0 else max(0, min(size, round(h["real_ratio"] * size)))
        real = self.real_batch(n_real)
        idx = torch.randint(0, max(n_img, 1), (size - n_real,), generator=self.gen)
        batch = [torch.cat([r, self.imagined[f][idx] if n_img else r[:0]]) for r, f in zip(real, FIELDS)]
        self.sac.update(*batch, gen=self.gen)

    def extra_state(self) -> dict[str, Any]:
        """The imagined transitions of the last round."""
        return {f"imagined_{f}": v for f, v in self.imagined.items()}

    def load_extra(self, state: dict[str, Any]) -> None:
        """Restore the imagined transitions."""
        self.imagined = {f: state[f"imagined_{f}"] for f in FIELDS}
