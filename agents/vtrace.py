"""V-trace off-policy targets (Espeholt et al. 2018, IMPALA, section 4.1).

Rollout workers act with the policy version they last received; by the time the
learner uses their trajectory it has moved on (policy lag). V-trace corrects for
that with truncated importance weights rho_t = min(rho_bar, pi(a_t|x_t) / mu(a_t|x_t))
and c_t = lambda * min(c_bar, pi / mu):

    v_s = V(x_s) + sum_{t >= s} gamma^{t-s} (prod_{i=s}^{t-1} c_i) rho_t delta_t,
    delta_t = r_t + gamma V(x_{t+1}) - V(x_t),

computed backwards as ``v_s - V(x_s) = rho_s delta_s + gamma_s c_s (v_{s+1} - V(x_{s+1}))``;
the policy-gradient advantage is ``min(rho_bar_pg, pi/mu) (r_s + gamma_s v_{s+1} - V(x_s))``.
On-policy (pi = mu) with rho_bar, c_bar >= 1 and lambda = 1, v_s is the n-step
bootstrapped return of the rest of the unroll. ``discounts`` carries the episode
ends: gamma where the episode continues, 0 after a termination (a time-limit
truncation is bootstrapped by the caller: gamma V(final observation) folded into
the reward and discount 0, as SB3 does). This is DeepMind's ``vtrace.py``
(scalable_agent) in torch; no library we use ships it outside RLlib's internals.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class VTrace(NamedTuple):
    """V-trace value targets ``vs`` and policy-gradient advantages, both (T, B)."""

    vs: torch.Tensor
    pg_advantages: torch.Tensor


@torch.no_grad()
def vtrace(behaviour_logp: torch.Tensor, target_logp: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor,
           values: torch.Tensor, bootstrap_value: torch.Tensor, rho_bar: float = 1.0, c_bar: float = 1.0,
           pg_rho_bar: float = 1.0, lam: float = 1.0) -> VTrace:
    """V-trace targets for time-major (T, B) tensors; ``bootstrap_value`` is V(x_T), shape (B,)."""
    rhos = torch.exp(target_logp - behaviour_logp)
    clipped = torch.clamp(rhos, max=rho_bar)
    cs = lam * torch.clamp(rhos, max=c_bar)
    values_next = torch.cat([values[1:], bootstrap_value[None]], dim=0)
    deltas = clipped * (rewards + discounts * values_next - values)
    acc = torch.zeros_like(bootstrap_value)
    out = torch.empty_like(values)
    for t in range(values.shape[0] - 1, -1, -1):
        acc = deltas[t] + discounts[t] * cs[t] * acc
        out[t] = acc
    vs = values + out
    vs_next = torch.cat([vs[1:], bootstrap_value[None]], dim=0)
    pg = torch.clamp(rhos, max=pg_rho_bar) * (rewards + discounts * vs_next - values)
    return VTrace(vs, pg)
