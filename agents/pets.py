"""``pets``: probabilistic ensembles with trajectory sampling (Chua et al. 2018).

Model-predictive control over a learned dynamics ensemble (``agents.dynamics_model``):
every environment step the planner scores ``samples`` candidate action sequences of
``horizon`` steps by rolling ``particles`` copies of the current observation through the
model, each particle bound to one ensemble member for the whole rollout and sampling that
member's Gaussian at every step (trajectory sampling TS-inf; ``propagation: mean`` follows each
member's mean instead, keeping the members' disagreement but not their predicted noise: on
InvertedPendulum one 5,000-step model planned 311 against 164 that way, while a whole run
trained with it stayed where sampling's did, ``benchmarks/RESULTS.md``);
a candidate's score is the mean
over particles of the summed predicted rewards (``cvar`` below 1: the mean of only the worst
``cvar`` fraction of its particles, the conditional value at risk: a pessimistic planner that prefers
plans on which the members agree and predict little noise; on InvertedPendulum's 5,000-step models it
moved the 5-episode mean from 164 to 233-277 and from 114 to 178-208, within the spread of the
planner search there, ``benchmarks/RESULTS.md``; ``uncertainty_penalty`` lambda > 0 scores each predicted
reward as ``r - lambda u``, ``u`` the member's predicted standard deviation averaged over the normalized
next-state outputs, MOPO's penalty (Yu et al. 2020), so plans stay where the model can predict: on InvertedPendulum
lambda 20 lifted 10,000-step runs from 99-216 to 525-1000 (IQM 801 over 5 seeds), ``benchmarks/RESULTS.md``),
each weighted by the predicted probability that
the particle is still running (the product of one minus the termination probabilities before
it: a rare termination the model gives 0.2 still counts, where a 0.5 threshold would ignore it). ``planner: cem`` refits a Gaussian to the elite fraction
over ``iterations`` rounds (mbrl-lib's CEM: each step starts from the shifted mean with the
full ``noise_std`` spread, the standard deviation capped at half the distance to the nearer
action bound and samples cut at two standard deviations, so they stay inside the bounds; the
mean and variance move ``1 - cem_alpha`` of the way to the elites' each round); ``planner: mppi`` averages the candidates with weights
``exp(R / (temperature * std R))``. The plan is warm-started (shifted) between steps and reset
when an episode starts. All candidates, particles and members are evaluated in one batched
torch pass per step of the horizon.

What is learned: the next-observation delta, the reward and termination. ``termination: known``
(or ``null``: known where ``scenarios.termination`` has a function for the scenario) uses the
task's own termination of the predicted observations instead of the learned head
(``learned``, the default); ``reward: known`` likewise the task's own reward
(``scenarios.termination.reward_function``).
Data is collected in rounds: uniform random actions for ``learning_starts`` steps, then every ``round_steps`` steps the
model is refitted on all data (``model_updates`` gradient steps) and collection continues
with the planner; each fit's losses and held-out one-step and ``error_horizon``-step errors
are rows of ``history``. ``learn(k); learn(k)`` equals ``learn(2k)``.

Acting outside ``learn`` draws its samples from a separate generator reseeded by
``reset_memory()`` (the evaluation harness calls it when an evaluation starts), so an
evaluation is reproducible and does not move the training streams.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from agents import config, hyperparams
from agents.base import Capabilities, ProgressFn, TableHyperparameters, require_box_agent
from agents.checkpoint import save_meta
from agents.model_based import (MODEL_DEFAULTS, build_model, fit_and_log, known, load_model,
                                resolve_reward, resolve_termination, save_model)
from agents.observations import accepts_unbatched
from agents.transitions import Transitions
from scenarios import Scenario, UserError

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {
    "planner": "cem", "propagation": "sample", "cvar": 1.0, "uncertainty_penalty": 0.0, "horizon": 15, "samples": 200, "iterations": 3, "elite_fraction": 0.1, "particles": 5,
    "noise_std": 0.5, "cem_alpha": 0.1, "temperature": 0.1, "learning_starts": 500, "round_steps": 250, "torch_threads": 1,
    "termination": "learned", "reward": "learned",
    **MODEL_DEFAULTS,
}


class PlanState:
    """Per-copy warm-started plan mean and spread (action units)."""

    def __init__(self) -> None:
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def reset(self, rows: list[int] | None = None) -> None:
        """Forget the plans of copies ``rows`` (all: ``None``)."""
        if rows is None or self.mean is None:
            self.mean = self.std = None
        else:
            self.mean[rows] = 0.0
            self.std[rows] = -1.0  # re-initialized at the next plan


class PETS(TableHyperparameters):
    """Model-predictive control (CEM or MPPI) over a learned probabilistic ensemble, with TS-inf."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "pets"
    capabilities = Capabilities(discrete_actions=False, multi_agent="single", learning="off-policy")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        h = self.hparams
        self.check_scenario(scenario, h)
        act_space, obs_space = scenario.action_space(AGENT), scenario.observation_space(AGENT)
        if h["planner"] not in ("cem", "mppi"):
            raise UserError(f"{self.name}: planner must be cem or mppi, got {h['planner']!r}")
        self.termination_fn = resolve_termination(self.name, scenario, h["termination"])
        self.reward_fn = resolve_reward(self.name, scenario, h["reward"])
        torch.set_num_threads(h["torch_threads"])
        self.obs_dim, self.act_dim = int(np.prod(obs_space.shape)), int(np.prod(act_space.shape))
        self.low = torch.as_tensor(act_space.low, dtype=torch.float32).reshape(-1)
        self.high = torch.as_tensor(act_space.high, dtype=torch.float32).reshape(-1)
        self.rng = np.random.default_rng(seed)
        self.model = build_model(h, self.obs_dim, self.act_dim, int(self.rng.integers(2**31)))
        self.train_gen = torch.Generator().manual_seed(int(self.rng.integers(2**63)))
        self.act_seed = int(self.rng.integers(2**63))
        self.act_gen = torch.Generator().manual_seed(self.act_seed)
        self.data = Transitions(self.obs_dim, self.act_dim)
        self.history: list[dict[str, float]] = []
        self.fitted = False
        self.steps_trained = 0
        self.planned_steps = 0
        self.plan_seconds = 0.0
        self._train_plan, self._eval_plan = PlanState(), PlanState()
        self._vec: Any = None
        self._obs: np.ndarray | None = None

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario or merged hyperparameters ``h`` this planner cannot take: one agent
        with Box observations and actions, particles a multiple of ensemble_size, an elite where CEM plans,
        a known termination or reward where the scenario has one."""
        require_box_agent(cls.name, scenario)
        config.check_pairs(cls.name, h)
        resolve_termination(cls.name, scenario, h["termination"])
        resolve_reward(cls.name, scenario, h["reward"])

    # ----- planning ---------------------------------------------------------------------------------
    def returns(self, obs: torch.Tensor, cand: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Predicted return of candidates ``cand`` (n, K, H, a) from ``obs`` (n, d): the mean over particles,
        or over the worst ``cvar`` fraction of them."""
        n, k, horizon, a = cand.shape
        e = self.hparams["ensemble_size"]
        per = self.hparams["particles"] // e  # particles per member
        rows = n * k * per
        state = obs[None, :, None, None, :].expand(e, n, k, per, self.obs_dim).reshape(e, rows, self.obs_dim)
        acts = cand[None, :, :, None].expand(e, n, k, per, horizon, a).reshape(e, rows, horizon, a)
        total = torch.zeros(e, rows)
        alive = torch.ones(e, rows)
        noise = gen if self.hparams["propagation"] == "sample" else None  # None: each member's mean
        penalty = self.hparams["uncertainty_penalty"]
        for t in range(horizon):
            prev = state
            if penalty:
                state, reward, p_end, spread = self.model.predict_spread(state, acts[:, :, t], noise)
            else:
                state, reward, p_end = self.model.predict(state, acts[:, :, t], noise)
            if self.termination_fn is not None:
                p_end = known(self.termination_fn, prev, acts[:, :, t], state)
            if self.reward_fn is not None:
                reward = known(self.reward_fn, prev, acts[:, :, t], state)
            if penalty:
                reward = reward - penalty * spread  # MOPO's r - lambda u: keep away from what the model cannot predict
            total += alive * reward
            alive = alive * (1.0 - p_end)  # the probability the particle is still running
        total = torch.nan_to_num(total, nan=-1e6, posinf=-1e6, neginf=-1e6)
        if self.hparams["cvar"] >= 1.0:
            return total.reshape(e, n, k, per).mean(dim=(0, 3))
        worst = max(1, int(round(self.hparams["cvar"] * e * per)))  # the lower tail over all particles
        per_particle = total.reshape(e, n, k, per).permute(1, 2, 0, 3).reshape(n, k, e * per)
        return per_particle.topk(worst, dim=2, largest=False).values.mean(dim=2)

    def plan(self, obs: np.ndarray, state: PlanState, gen: torch.Generator) -> np.ndarray:
        """One planning step for every copy: the first action of each refined plan (the plan shifts)."""
        started = time.perf_counter()
        h = self.hparams
        n, horizon, a = len(obs), h["horizon"], self.act_dim
        half = (self.high - self.low) / 2
        std0 = h["noise_std"] * half
        if state.mean is None or len(state.mean) != n:
            state.mean = torch.zeros(n, horizon, a) + (self.low + self.high) / 2
            state.std = std0.expand(n, horizon, a).clone()
        fresh = state.std[:, 0, 0] < 0
        state.mean[fresh] = (self.low + self.high) / 2
        state.std[fresh] = std0
        o = torch.as_tensor(np.asarray(obs, np.float32).reshape(n, -1))
        k = h["samples"]
        if h["planner"] == "cem":  # every step searches afresh around the shifted mean
            state.std = std0.expand(n, horizon, a).clone()
        with torch.no_grad():
            for _ in range(h["iterations"] if h["planner"] == "cem" else 1):
                noise = torch.randn((n, k, horizon, a), generator=gen)
                if h["planner"] == "cem":
                    room = torch.minimum(state.mean - self.low, self.high - state.mean) / 2
                    noise = noise.clamp(-2.0, 2.0) * torch.minimum(state.std, room.clamp(min=0))[:, None]
                else:
                    noise = noise * state.std[:, None]
                cand = torch.clamp(state.mean[:, None] + noise, self.low, self.high)
                cand[:, 0] = state.mean  # the incumbent plan stays a candidate
                ret = self.returns(o, cand, gen)
                if h["planner"] == "cem":
                    n_elite = max(1, int(round(h["elite_fraction"] * k)))
                    elite = torch.gather(cand, 1, ret.argsort(dim=1, descending=True)[:, :n_elite, None, None]
                                         .expand(n, n_elite, horizon, a))
                    alpha = h["cem_alpha"]
                    state.mean = alpha * state.mean + (1 - alpha) * elite.mean(dim=1)
                    var = alpha * state.std ** 2 + (1 - alpha) * elite.var(dim=1, correction=0)
                    state.std = var.sqrt()
                else:
                    spread = ret.std(dim=1, keepdim=True) if k > 1 else torch.zeros_like(ret[:, :1])  # one: weight 1
                    w = torch.softmax((ret - ret.max(dim=1, keepdim=True).values)
                                      / (h["temperature"] * (spread + 1e-8)), dim=1)
                    state.mean = torch.einsum("nk,nkha->nha", w, cand)
        action = state.mean[:, 0].clone()
        state.mean = torch.cat([state.mean[:, 1:], ((self.low + self.high) / 2).expand(n, 1, a)], dim=1)
        state.std = torch.cat([state.std[:, 1:], std0.expand(n, 1, a)], dim=1)
        self.planned_steps += n
        self.plan_seconds += time.perf_counter() - started
        return action.numpy()

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The planner's action for each copy (a plan is a sample: ``deterministic`` changes nothing;
        before the model is fitted, the middle of the action range)."""
        o = obs[AGENT]
        if not self.fitted:
            return {AGENT: np.broadcast_to(((self.low + self.high) / 2).numpy(), (len(o), self.act_dim)).copy()}
        return {AGENT: self.plan(o, self._eval_plan, self.act_gen)}

    def reset_memory(self, indices: list[int] | None = None) -> None:
        """Start new episodes: forget the plans of copies ``indices``; with none given (a new
        evaluation), all plans, and reseed the acting generator."""
        self._eval_plan.reset(indices)
        if indices is None:
            self.act_gen.manual_seed(self.act_seed)

    # ----- learning ---------------------------------------------------------------------------------
    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect ``steps`` real steps in rounds, refitting the model every ``round_steps`` steps."""
        h = self.hparams
        if self._vec is None:
            self._vec = self.scenario.vector(1, seed=self.seed)
            self._obs = self._vec.reset()[0][AGENT]
        vec, o = self._vec, self._obs
        for t in range(steps):
            total = self.steps_trained + t
            if total < h["learning_starts"] or not self.fitted:
                a = self.rng.uniform(self.low.numpy(), self.high.numpy(), (1, self.act_dim)).astype(np.float32)
            else:
                a = self.plan(o, self._train_plan, self.train_gen)
            obs, rew, term, trunc, infos = vec.step({AGENT: a})
            nxt = obs[AGENT]
            ended = term[AGENT] | trunc[AGENT]
            final = nxt.copy()
            for i in np.flatnonzero(ended):
                final[i] = infos[i]["final_observation"][AGENT]
                self._train_plan.reset([int(i)])
            self.data.add(o.reshape(1, -1), a, rew[AGENT], final.reshape(1, -1), term[AGENT], ended)
            o = nxt
            if (total + 1) >= h["learning_starts"] and (total + 1) % h["round_steps"] == 0:
                fit_and_log(self.model, self.data, h["model_updates"], self.rng, self.history, total + 1)
                self.fitted = True
            if progress:
                progress(t + 1, steps)
        self._obs = o
        self.steps_trained += steps

    def plan_cost(self) -> float:
        """Mean wall seconds per planned environment step (per copy) so far."""
        return self.plan_seconds / max(self.planned_steps, 1)

    # ----- checkpoints ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model (``model.pt``), the real data (``data.npz``) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_model(path, self.model, self.data, {"fitted": torch.tensor(self.fitted)})
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> PETS:
        """Restore the model and data."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.data, extra = load_model(path, agent.model)
        agent.fitted = bool(extra["fitted"])
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
