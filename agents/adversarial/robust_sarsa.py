"""Robust Sarsa: the attack on a learned, smoothed action-value function of the victim
(Zhang et al. 2020, "Robust Deep RL against Adversarial Perturbations on State
Observations", Sec. 6 and App. D; the SA-PPO code's ``sarsa`` attack).

The victim's own critic is a poor guide for an attacker (it was trained alongside the
policy and may be wrong exactly where the policy is fragile), so Robust Sarsa fits a
fresh ``Q^pi(s, a)`` of the fixed victim policy from the victim's own roll-outs and
attacks through it: ``min_{|delta| <= eps} Q(s, pi(s + delta))``, the true state ``s``
in the critic, the perturbed one in the policy.

Fitting, per targeted agent on its own reward:

- data: ``steps`` environment steps of the victim acting stochastically (sampling its
  action distribution, so actions around the deterministic one are seen), on the
  scenario the attack is evaluated on;
- target: ``r + gamma (1 - terminated) Q'(s', pi_mean(s'))`` (expected Sarsa at the
  victim's evaluation action; a truncated episode bootstraps from its final
  observation), ``Q'`` a Polyak-averaged copy;
- the robustness regularizer: ``reg * (Q(s, a + d) - Q(s, a))^2`` at the worst ``d`` of
  one signed-gradient step within ``action_eps`` of the action range, which makes the
  action gradient the attack follows meaningful (the paper's ``sarsa_reg``; it used
  convex relaxations, a gradient step is the cheap variant its code also offers).

Discrete actions: ``Q(s, .)`` over the actions, attacked through the expected value
``sum_a pi(a | s + delta) Q(s, a)``. Continuous actions: the critic takes the action the
environment receives; the map from the victim's distribution mean to that action
(identity for PPO, the rescaling of a squashed SAC/TD3 action) is fitted from the
victim's own deterministic actions and checked.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents.adversarial.victim import Victim
from scenarios import Scenario, UserError



def _mlp(inputs: int, outputs: int, hidden: int = 256) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


class RobustSarsa:
    """A fitted, action-smoothed ``Q^pi`` of one agent of a victim, and the attack through it."""

    def __init__(self, victim: Victim, obs_space: spaces.Space, act_space: spaces.Space, std: np.ndarray) -> None:
        if not isinstance(act_space, (spaces.Box, spaces.Discrete)):
            raise UserError(f"the robust_sarsa attack needs Box or Discrete actions, not {act_space}")
        self.victim, self.act_space = victim, act_space
        self.discrete = isinstance(act_space, spaces.Discrete)
        self.obs_dim = int(np.prod(obs_space.shape))
        self.obs_scale = torch.as_tensor(np.asarray(std, np.float32).ravel())
        self.obs_mean = torch.zeros(self.obs_dim)
        if self.discrete:
            self.q = _mlp(self.obs_dim, int(act_space.n))
        else:
            self.act_dim = int(np.prod(act_space.shape))
            low, high = (np.asarray(b, np.float64).ravel() for b in (act_space.low, act_space.high))
            finite = np.isfinite(low) & np.isfinite(high)
            self.low = torch.as_tensor(np.where(finite, low, -np.inf), dtype=torch.float32)
            self.high = torch.as_tensor(np.where(finite, high, np.inf), dtype=torch.float32)
            self.act_scale = torch.as_tensor(np.where(finite, (high - low) / 2, 1.0), dtype=torch.float32)
            self.alpha, self.beta = torch.ones(self.act_dim), torch.zeros(self.act_dim)
            self.q = _mlp(self.obs_dim + self.act_dim, 1)

    # -- the victim's evaluation action, differentiable ----------------------
    def fit_action_map(self, obs: np.ndarray, actions: np.ndarray) -> float:
        """Fit env action = clip(alpha * mean + beta) per dimension from the victim's deterministic
        actions at ``obs``; returns the largest residual (in action-range units)."""
        with torch.no_grad():
            mean = self.victim.dist(torch.as_tensor(obs, dtype=torch.float32)).mean.reshape(len(obs), -1).double().numpy()
        a = np.asarray(actions, np.float64).reshape(len(obs), -1)
        low, high = self.low.double().numpy(), self.high.double().numpy()
        alpha, beta = np.ones(self.act_dim), np.zeros(self.act_dim)
        for j in range(self.act_dim):
            inside = (a[:, j] > low[j] + 1e-6) & (a[:, j] < high[j] - 1e-6)
            m, y = mean[inside, j], a[inside, j]
            if len(m) >= 2 and np.ptp(m) > 1e-8:
                alpha[j], beta[j] = np.polyfit(m, y, 1)
            elif len(m):
                beta[j] = float(np.mean(y - m))
        self.alpha, self.beta = torch.as_tensor(alpha, dtype=torch.float32), torch.as_tensor(beta, dtype=torch.float32)
        fitted = np.clip(alpha * mean + beta, low, high)
        return float(np.max(np.abs(fitted - a) / self.act_scale.double().numpy())) if len(a) else 0.0

    def policy_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The victim's evaluation action at ``obs`` as the critic sees it (probabilities if discrete)."""
        dist = self.victim.dist(obs)
        if self.discrete:
            return dist.probs  # type: ignore[attr-defined]
        mean = dist.mean.reshape(len(obs), -1)
        return torch.max(torch.min(self.alpha * mean + self.beta, self.high), self.low)

    def value(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``Q(s, a)``; for discrete actions ``action`` is a probability vector (the expected value)."""
        x = (obs - self.obs_mean) / self.obs_scale
        if self.discrete:
            return (self.q(x) * action).sum(-1)
        return self.q(torch.cat([x, action / self.act_scale], -1)).squeeze(-1)

    # -- fitting ---------------------------------------------------------------
    def fit(self, data: dict[str, np.ndarray], updates: int | None = None, batch: int = 256, gamma: float = 0.99,
            reg: float = 0.1, action_eps: float = 0.05, lr: float = 1e-3, tau: float = 0.01, seed: int = 0) -> dict[str, float]:
        """Fit Q on transitions ``obs, act, rew, next_obs, terminated`` (module doc); returns the last losses.

        ``updates`` defaults to one per 8 transitions, 250 to 3000."""
        updates = int(np.clip(len(data["obs"]) // 8, 250, 3000)) if updates is None else int(updates)
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        for layer in self.q:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        obs = torch.as_tensor(data["obs"], dtype=torch.float32).reshape(len(data["obs"]), -1)
        nxt = torch.as_tensor(data["next_obs"], dtype=torch.float32).reshape(len(obs), -1)
        rew = torch.as_tensor(data["rew"], dtype=torch.float32)
        scale = float(rew.std()) + 1e-8
        rew = rew / scale
        notdone = 1.0 - torch.as_tensor(data["terminated"], dtype=torch.float32)
        if self.discrete:
            act = nn.functional.one_hot(torch.as_tensor(data["act"]).long().reshape(-1), int(self.act_space.n)).float()
        else:
            act = torch.as_tensor(data["act"], dtype=torch.float32).reshape(len(obs), -1)
            act = torch.max(torch.min(act, self.high), self.low)
        self.obs_mean = obs.mean(0)
        with torch.no_grad():
            next_act = torch.cat([self.policy_action(nxt[i : i + 4096]) for i in range(0, len(nxt), 4096)])
        target_q = copy.deepcopy(self.q)
        opt = torch.optim.Adam(self.q.parameters(), lr=lr)
        td = r = torch.zeros(())
        for _ in range(updates):
            idx = torch.randint(len(obs), (min(batch, len(obs)),), generator=gen)
            with torch.no_grad():
                x1 = (nxt[idx] - self.obs_mean) / self.obs_scale
                q1 = (target_q(x1) * next_act[idx]).sum(-1) if self.discrete else \
                    target_q(torch.cat([x1, next_act[idx] / self.act_scale], -1)).squeeze(-1)
                y = rew[idx] + gamma * notdone[idx] * q1
            q = self.value(obs[idx], act[idx])
            td = ((q - y) ** 2).mean()
            loss = td
            if reg > 0 and not self.discrete:
                bound = action_eps * self.act_scale
                d = (torch.rand(len(idx), self.act_dim, generator=gen) * 2 - 1) * bound
                d.requires_grad_(True)
                gap = ((self.value(obs[idx], act[idx] + d) - q.detach()) ** 2).sum()
                (g,) = torch.autograd.grad(gap, d)
                worst = (d + bound * g.sign()).clamp(-bound, bound).detach()
                r = ((self.value(obs[idx], act[idx] + worst) - q) ** 2).mean()
                loss = td + reg * r
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, tp in zip(self.q.parameters(), target_q.parameters()):
                    tp.mul_(1 - tau).add_(tau * p)
        for p in self.q.parameters():
            p.requires_grad_(False)
        return {"td": float(td.detach()), "reg": float(r.detach()), "reward_scale": scale}

    # -- the attack --------------------------------------------------------------
    def delta(self, obs: np.ndarray, bound: torch.Tensor, steps: int, rng: torch.Generator) -> np.ndarray:
        """``steps`` projected signed-gradient steps minimizing Q(s, pi(s + delta)), from a small random start."""
        x = torch.as_tensor(np.asarray(obs, np.float32)).reshape(len(obs), -1)
        size = 2.5 / steps
        d = (torch.rand(x.shape, generator=rng) * 2 - 1) * bound * size
        for _ in range(steps):
            d.requires_grad_(True)
            objective = -self.value(x, self.policy_action(x + d)).sum()
            (grad,) = torch.autograd.grad(objective, d)
            with torch.no_grad():
                d = torch.max(torch.min(d + size * bound * grad.sign(), bound), -bound)
        return d.detach().numpy()


def collect(agent: Any, scenario: Scenario, targets: list[str], steps: int, seed: int) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``steps`` environment steps of ``agent`` sampling its actions on ``scenario``: transitions per
    targeted agent, and (observations, deterministic actions) pairs for the action map."""
    n = 8
    vec = scenario.vector(n, seed=seed)
    obs, _ = vec.reset()
    rows: dict[str, dict[str, list[np.ndarray]]] = {a: {k: [] for k in ("obs", "act", "rew", "next_obs", "terminated")} for a in targets}
    probe: dict[str, list[np.ndarray]] = {a: [] for a in targets}
    det: dict[str, list[np.ndarray]] = {a: [] for a in targets}
    done = 0
    try:
        while done < steps:
            actions = agent.act(obs, deterministic=False)
            if len(probe[targets[0]]) < 64:
                greedy = agent.act(obs, deterministic=True)
                for a in targets:
                    probe[a].append(np.asarray(obs[a], np.float32).reshape(n, -1))
                    det[a].append(np.asarray(greedy[a]).reshape(n, -1))
            acting = {a: np.array(vec.active[a], bool, copy=True) for a in targets}  # rows of agents in play
            nxt, rew, term, trunc, infos = vec.step(actions)
            for a in targets:
                after = np.array(nxt[a], np.float32, copy=True).reshape(n, -1)
                for i, info in enumerate(infos):
                    if "final_observation" in info:
                        after[i] = np.asarray(info["final_observation"][a], np.float32).ravel()
                keep = acting[a]
                rows[a]["obs"].append(np.asarray(obs[a], np.float32).reshape(n, -1)[keep])
                rows[a]["act"].append(np.asarray(actions[a]).reshape(n, -1)[keep])
                rows[a]["rew"].append(np.asarray(rew[a], np.float64)[keep])
                rows[a]["next_obs"].append(after[keep])
                rows[a]["terminated"].append(np.asarray(term[a], bool)[keep])
            obs = nxt
            done += n
    finally:
        vec.close()
    data = {a: {k: np.concatenate(v) for k, v in r.items()} for a, r in rows.items()}
    pairs = {a: (np.concatenate(probe[a]), np.concatenate(det[a])) for a in targets}
    return data, pairs
