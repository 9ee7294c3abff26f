"""Observation attacks at evaluation time: the perturbation applied between the
scenario's observation (after its own layers) and the victim policy.

Budget: ``eps`` in units of each observation dimension's standard deviation,
in the L-infinity sense: |delta_i| <= eps * std_i, always (projection after
every step; tested). ``std`` comes from the victim's own normalization
statistics when it has them, otherwise from a calibration roll-out of the
victim on the clean scenario (``calibrate``).

- ``random``: uniform in the L-infinity ball;
- ``fgsm``: one signed-gradient step of size eps (Goodfellow et al. 2015) on the
  MAD objective, from a small random start (the KL's gradient is zero at
  delta = 0);
- ``pgd``: ``steps`` projected signed-gradient steps of size 2.5 eps / steps
  from a random start, maximizing the victim's action-distribution divergence
  KL(pi(.|s) || pi(.|s + delta)) (MAD, Zhang et al. 2020);
- ``critic``: ``steps`` projected steps minimizing the victim's own value
  estimate V(s + delta) (Pattanaik et al. 2018 / Zhang et al. 2020).

Gradients are taken with respect to delta only (``torch.autograd.grad``): the
victim's parameters and their gradients are never touched. The victim is any
agent with the protocol's ``policy_distribution`` (and ``value`` for ``critic``). RL attack libraries (e.g. the
SA-PPO code) are tied to their own training code, hence our own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.adversarial.attack_kinds import ATTACKS
from agents.adversarial.victim import Victim, victim_of
from scenarios import Scenario, UserError


def calibrate(agent: Any, scenario: Scenario, episodes: int = 5, seed: int = 12_345) -> dict[str, np.ndarray]:
    """Per-dimension standard deviation of each agent's observations under the victim's own policy."""
    vec = scenario.vector(min(episodes, 8), seed=seed)
    obs, _ = vec.reset()
    seen: dict[str, list[np.ndarray]] = {a: [] for a in vec.agents}
    finished = 0
    steps = 0
    while finished < episodes and steps < 20_000:
        for a in vec.agents:
            seen[a].append(np.asarray(obs[a], np.float64).reshape(vec.num_envs, -1))
        obs, _, _, _, infos = vec.step(agent.act(obs, deterministic=True))
        finished += sum("episode" in i for i in infos)
        steps += vec.num_envs
    vec.close()
    return {a: np.concatenate(x).std(0) + 1e-8 for a, x in seen.items()}


def gradient_delta(victim: Victim, obs: np.ndarray, bound: torch.Tensor, kind: str, steps: int,
                   rng: torch.Generator) -> np.ndarray:
    """An fgsm / pgd / critic perturbation of observation rows (N, d) within ``|delta| <= bound``."""
    x = torch.as_tensor(np.asarray(obs, np.float32))
    uniform = lambda scale: (torch.rand(x.shape, generator=rng) * 2 - 1) * bound * scale  # noqa: E731
    with torch.no_grad():
        clean = victim.dist(x)
    if kind == "critic":
        d, n, size = torch.zeros_like(x), steps, 2.5 / steps
    elif kind == "fgsm":
        d, n, size = uniform(0.1), 1, 1.0
    else:
        d, n, size = uniform(1.0), steps, 2.5 / steps
    for _ in range(n):
        d.requires_grad_(True)
        if kind == "critic":
            objective = -victim.value(x + d).sum()  # ascend on -V: minimize the value
        else:
            kl = torch.distributions.kl_divergence(clean, victim.dist(x + d))
            objective = (kl.sum(-1) if kl.dim() > 1 else kl).sum()
        (grad,) = torch.autograd.grad(objective, d)
        with torch.no_grad():
            d = torch.max(torch.min(d + size * bound * grad.sign(), bound), -bound)
    return d.detach().numpy()


class ObservationAttack:
    """An L-infinity-bounded observation attack on one or more agents of a victim policy."""

    def __init__(self, kind: str, eps: float, victim: Any, std: dict[str, np.ndarray], steps: int = 10,
                 seed: int = 0, agents: list[str] | None = None) -> None:
        if kind not in ATTACKS:
            raise UserError(f"unknown attack '{kind}' (valid: {', '.join(ATTACKS)})")
        if eps < 0:
            raise UserError(f"attack eps must be >= 0 (got {eps})")
        if steps < 1:
            raise UserError(f"attack steps must be >= 1 (got {steps})")
        if getattr(getattr(victim, "capabilities", None), "needs_state", None):
            raise UserError(f"{victim.name} plans from the simulator state, not the observation: nothing to attack")
        self.kind, self.eps, self.steps, self.agent = kind, float(eps), int(steps), victim
        self.targets = list(agents or victim.scenario.possible_agents)
        self.bound = {a: torch.as_tensor(self.eps * np.asarray(std[a], np.float32).ravel()) for a in self.targets}
        self.rng = torch.Generator().manual_seed(seed)
        self._victims: dict[str, Victim] = {}
        if kind != "random":
            self._victims = {a: victim_of(victim, a) for a in self.targets}
            if kind == "critic" and any(v.value is None for v in self._victims.values()):
                raise UserError(f"the critic attack needs a value function; {victim.name} has none (use pgd or fgsm)")

    def delta(self, agent: str, obs: np.ndarray) -> np.ndarray:
        """The perturbation for a batch of one agent's observations (same shape as ``obs``)."""
        x = np.asarray(obs, np.float32).reshape(len(obs), -1)
        bound = self.bound[agent]
        if self.kind == "random" or self.eps == 0:
            d = (torch.rand(x.shape, generator=self.rng) * 2 - 1) * bound
            return d.numpy().reshape(np.shape(obs))
        d = gradient_delta(self._victims[agent], x, bound, self.kind, self.steps, self.rng)
        return d.reshape(np.shape(obs))

    def perturb(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Observations with every targeted agent's perturbation added."""
        out = dict(obs)
        for a in self.targets:
            out[a] = (np.asarray(obs[a], np.float32) + self.delta(a, obs[a])).astype(np.asarray(obs[a]).dtype)
        return out


class AttackedAgent:
    """A victim whose observations pass through an attack before it acts (what the harness evaluates)."""

    def __init__(self, victim: Any, attack: ObservationAttack) -> None:
        self.victim, self.attack = victim, attack
        self.name, self.scenario, self.seed = victim.name, victim.scenario, getattr(victim, "seed", None)
        self.capabilities = getattr(victim, "capabilities", None)

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The victim's actions on attacked observations."""
        return self.victim.act(self.attack.perturb(obs), deterministic=deterministic)

    def reset_memory(self, indices: list[int] | None = None) -> None:
        """Forward episode starts to a recurrent victim."""
        forget = getattr(self.victim, "reset_memory", None)
        if forget:
            forget(indices)
