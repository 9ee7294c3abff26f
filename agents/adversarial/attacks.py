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
- ``mad``: maximal action difference as the SA-PPO code runs it: ``steps`` signed
  steps of size eps / steps on the same KL objective, each step's gradient perturbed
  by decaying Gaussian noise (stochastic gradient Langevin dynamics, noise
  sqrt(2 eps / steps) / (k + 2) in budget units), from a random signed first step;
- ``critic``: ``steps`` projected steps minimizing the victim's own value
  estimate V(s + delta) (Pattanaik et al. 2018 / Zhang et al. 2020);
- ``robust_sarsa``: ``steps`` projected steps minimizing a freshly fitted, action-smoothed
  Q(s, pi(s + delta)) of the victim (``robust_sarsa.py``; fitted once per victim on
  ``train_steps`` of its roll-outs and shared by every eps);
- ``learned``: an SB3 PPO perturber trained for ``train_steps`` against the frozen victim
  at each eps (``learned_attack.py``), acting deterministically.

``fit(scenario)`` trains what ``robust_sarsa`` and ``learned`` need, on the scenario the
attack is evaluated on (``attack_curve`` calls it); the other kinds need nothing.

Gradients are taken with respect to delta only (``torch.autograd.grad``): the
victim's parameters and their gradients are never touched. The victim is any
agent with the protocol's ``policy_distribution`` (and ``value`` for ``critic``). RL attack libraries (e.g. the
SA-PPO code) are tied to their own training code, hence our own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gymnasium import spaces

from agents.adversarial.attack_kinds import ATTACKS, MAX_EPS, TRAIN_STEPS
from agents.adversarial.robust_sarsa import RobustSarsa, collect
from agents.adversarial.victim import Victim, victim_of
from scenarios import Scenario, UserError


def calibrate(agent: Any, scenario: Scenario, episodes: int = 5, seed: int = 12_345) -> dict[str, np.ndarray]:
    """Per-dimension standard deviation of each agent's observations under the victim's own policy, for
    the agents whose observations are a Box (the ones an attack can perturb; refused in one line when
    there are none, e.g. a goal-conditioned Dict)."""
    boxes = [a for a in scenario.possible_agents if isinstance(scenario.observation_space(a), spaces.Box)]
    if not boxes:
        raise UserError(f"observation attacks perturb Box observations; no agent of {scenario.id} has them "
                        f"({scenario.observation_space(scenario.possible_agents[0])})")
    vec = scenario.vector(min(episodes, 8), seed=seed)
    obs, _ = vec.reset()
    seen: dict[str, list[np.ndarray]] = {a: [] for a in boxes}
    finished = 0
    steps = 0
    while finished < episodes and steps < 20_000:
        for a in boxes:
            seen[a].append(np.asarray(obs[a], np.float64).reshape(vec.num_envs, -1))
        obs, _, _, _, infos = vec.step(agent.act(obs, deterministic=True))
        finished += sum("episode" in i for i in infos)
        steps += vec.num_envs
    vec.close()
    return {a: np.concatenate(x).std(0) + 1e-8 for a, x in seen.items()}


def gradient_delta(victim: Victim, obs: np.ndarray, bound: torch.Tensor, kind: str, steps: int,
                   rng: torch.Generator, eps: float = 1.0) -> np.ndarray:
    """An fgsm / pgd / mad / critic perturbation of observation rows (N, d) within ``|delta| <= bound``
    (``bound = eps * std``; ``eps`` > 0 sets mad's noise scale in std units)."""
    x = torch.as_tensor(np.asarray(obs, np.float32))
    uniform = lambda scale: (torch.rand(x.shape, generator=rng) * 2 - 1) * bound * scale  # noqa: E731
    with torch.no_grad():
        clean = victim.dist(x)
    if kind == "critic":
        d, n, size = torch.zeros_like(x), steps, 2.5 / steps
    elif kind == "fgsm":
        d, n, size = uniform(0.1), 1, 1.0
    elif kind == "mad":
        n, size = steps, 1.0 / steps
        d = torch.randn(x.shape, generator=rng).sign() * bound * size  # the KL's gradient is zero at delta = 0
    else:
        d, n, size = uniform(1.0), steps, 2.5 / steps
    for k in range(n):
        d.requires_grad_(True)
        if kind == "critic":
            objective = -victim.value(x + d).sum()  # ascend on -V: minimize the value
        else:
            kl = torch.distributions.kl_divergence(clean, victim.dist(x + d))
            objective = (kl.sum(-1) if kl.dim() > 1 else kl).sum()
        (grad,) = torch.autograd.grad(objective, d)
        if kind == "mad":  # SGLD in std units (SA-PPO's normalized states): gradient plus decaying noise, then its sign
            grad = grad * (bound / eps) + np.sqrt(2 * size * eps) / (k + 2) * torch.randn(x.shape, generator=rng)
        with torch.no_grad():
            d = torch.max(torch.min(d + size * bound * grad.sign(), bound), -bound)
    return d.detach().numpy()


def fit_sarsa(agent: Any, scenario: Scenario, targets: list[str], std: dict[str, np.ndarray], steps: int,
              seed: int = 0) -> dict[str, RobustSarsa]:
    """Robust Sarsa critics of ``agent``'s targeted agents, fitted on ``steps`` steps of its roll-outs on ``scenario``."""
    data, pairs = collect(agent, scenario, targets, steps, seed)
    out = {}
    for a in targets:
        space = scenario.action_space(a)
        critic = RobustSarsa(victim_of(agent, a), scenario.observation_space(a), space, std[a])
        if not critic.discrete:
            residual = critic.fit_action_map(*pairs[a])
            if residual > 0.05:
                raise UserError(f"robust_sarsa: {agent.name}'s actions are not an affine map of its policy mean "
                                f"(residual {residual:.2g} of the action range); use pgd, mad or learned")
        critic.fit(data[a], seed=seed)
        out[a] = critic
    return out


def check_targets(scenario: Scenario, targets: list[str]) -> None:
    """Refuse, in one line, attack targets that are not agents of ``scenario`` or whose observations are not a
    Box: an attack adds a real-valued perturbation bounded per dimension, which a Discrete state index (one-hot
    inside the policy, so no gradient reaches it) or a goal-conditioned Dict does not take."""
    unknown = [a for a in targets if a not in scenario.possible_agents]
    if unknown:
        raise UserError(f"attack agents {unknown} are not in {scenario.id} (valid: {', '.join(scenario.possible_agents)})")
    for a in targets:
        space = scenario.observation_space(a)
        if not isinstance(space, spaces.Box):
            raise UserError(f"observation attacks perturb Box observations; {scenario.id} {a} has {space} "
                            "(valid: a victim on a task with Box observations)")


class ObservationAttack:
    """An L-infinity-bounded observation attack on one or more agents of a victim policy."""

    def __init__(self, kind: str, eps: float, victim: Any, std: dict[str, np.ndarray], steps: int = 10,
                 seed: int = 0, agents: list[str] | None = None, train_steps: int | None = None,
                 sarsa: dict[str, RobustSarsa] | None = None) -> None:
        if kind not in ATTACKS:
            raise UserError(f"unknown attack '{kind}' (valid: {', '.join(ATTACKS)}, or all)")
        if not 0 <= eps <= MAX_EPS:  # NaN fails both; beyond the cap the perturbed observations overflow
            raise UserError(f"attack eps must be a number from 0 to {MAX_EPS:g} observation standard deviations (got {eps})")
        if steps < 1:
            raise UserError(f"attack steps must be >= 1 (got {steps})")
        if train_steps is not None and train_steps < 1:
            raise UserError(f"attack train_steps must be >= 1 (got {train_steps})")
        if getattr(getattr(victim, "capabilities", None), "needs_state", None):
            raise UserError(f"{victim.name} plans from the simulator state, not the observation: nothing to attack")
        self.kind, self.eps, self.steps, self.agent, self.seed = kind, float(eps), int(steps), victim, int(seed)
        self.targets = list(agents or victim.scenario.possible_agents)
        check_targets(victim.scenario, self.targets)
        self.std = {a: np.asarray(std[a], np.float32).ravel() for a in self.targets}
        self.bound = {a: torch.as_tensor(self.eps * self.std[a]) for a in self.targets}
        self.rng = torch.Generator().manual_seed(seed)
        self.train_steps = int(train_steps) if train_steps is not None else TRAIN_STEPS.get(kind, 0)
        self._victims: dict[str, Victim] = {}
        self.sarsa = sarsa
        self.perturber: Any = None  # a learned_attack.LearnedPerturber once fitted
        if kind not in ("random", "learned"):
            self._victims = {a: victim_of(victim, a) for a in self.targets}
            if kind == "critic" and any(v.value is None for v in self._victims.values()):
                raise UserError(f"the critic attack needs a value function; {victim.name} has none (use pgd, mad or robust_sarsa)")

    @property
    def fitted(self) -> bool:
        """Whether the attack has what it needs to run (always, except a robust_sarsa or learned attack before ``fit``)."""
        return not ((self.kind == "robust_sarsa" and self.sarsa is None)
                    or (self.kind == "learned" and self.perturber is None and self.eps > 0))

    def fit(self, scenario: Scenario) -> ObservationAttack:
        """Fit the robust Sarsa critics or train the learned adversary on ``scenario`` (no-op for other kinds)."""
        if self.kind == "robust_sarsa" and self.sarsa is None:
            self.sarsa = fit_sarsa(self.agent, scenario, self.targets, self.std, self.train_steps, self.seed)
        elif self.kind == "learned" and self.perturber is None and self.eps > 0:
            from agents.adversarial.learned_attack import LearnedPerturber  # SB3 loads only for this attack

            self.perturber = LearnedPerturber(self.agent, scenario, self.targets, self.std, self.eps,
                                              steps=self.train_steps, seed=self.seed)
        return self

    def delta(self, agent: str, obs: np.ndarray) -> np.ndarray:
        """The perturbation for a batch of one agent's observations (same shape as ``obs``)."""
        x = np.asarray(obs, np.float32).reshape(len(obs), -1)
        bound = self.bound[agent]
        if self.kind == "random" or self.eps == 0:
            d = (torch.rand(x.shape, generator=self.rng) * 2 - 1) * bound
            return d.numpy().reshape(np.shape(obs))
        if not self.fitted:
            raise UserError(f"the {self.kind} attack must be fitted on a scenario first (ObservationAttack.fit)")
        if self.kind == "robust_sarsa":
            return self.sarsa[agent].delta(x, bound, self.steps, self.rng).reshape(np.shape(obs))  # type: ignore[index]
        if self.kind == "learned":
            raise UserError("the learned attack perturbs every targeted agent at once: use perturb()")
        d = gradient_delta(self._victims[agent], x, bound, self.kind, self.steps, self.rng, self.eps)
        return d.reshape(np.shape(obs))

    def perturb(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Observations with every targeted agent's perturbation added."""
        out = dict(obs)
        if self.kind == "learned" and self.eps > 0:
            if self.perturber is None:
                raise UserError("the learned attack must be fitted on a scenario first (ObservationAttack.fit)")
            deltas = self.perturber.perturb(obs)
            for a in self.targets:
                x = np.asarray(obs[a])
                out[a] = (x.astype(np.float32) + deltas[a].reshape(x.shape)).astype(x.dtype)
            return out
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
