"""Sampling-based model-predictive control with the simulator as the model: MPPI and CEM.

Each step, for every scenario copy, K open-loop action sequences of H steps are
rolled out from that copy's current MuJoCo state with ``mujoco.rollout`` (C
threads, the GIL released), on the *nominal* model: the planner never sees the
scenario's perturbations, which makes it a robustness baseline. Returns are
the task's own rewards (the batched backend's vectorized Gymnasium v5 logic),
summed until a rollout terminates. MPPI (Williams et al. 2017) averages the
sequences with softmax weights exp(R / (lambda * std R)); CEM refits a
Gaussian to the elite fraction over a few iterations (predictive sampling when
``iterations: 1`` and ``elite_fraction`` picks the best). The plan is shifted
and warm-started between steps, and reset when a copy starts a new episode; every step's
search starts from the full ``noise_std`` spread around the shifted plan (CEM's elite spread is
refitted within a step, not carried to the next, where it had shrunk to its floor: with
the simulator as the model on InvertedPendulum, horizon 30, 128 x 3, that froze the search and
the pole fell after 324-442 steps; searching afresh balances it for all 1,000).
Tasks whose reward needs more than qpos/qvel (Reacher, InvertedDoublePendulum,
Ant) are refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import mujoco
import numpy as np
from mujoco import rollout as mjrollout

from agents import hyperparams
from agents.base import Capabilities, NoTraining, TableHyperparameters
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {"horizon": 30, "samples": 128, "noise_std": 0.5, "temperature": 0.1, "iterations": 1,
                            "elite_fraction": 0.1, "nthread": 2}


class SamplingPlanner(TableHyperparameters, NoTraining, ABC):
    """Shared rollout and scoring for MPPI and CEM (``update`` differs)."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str]
    capabilities = Capabilities(discrete_actions=False, multi_agent="single", needs_training=False, learning="planning",
                                needs_state="physics")

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario that is not a MuJoCo task scored from qpos/qvel."""
        from scenarios.batch.tasks import TASKS

        kind, _, task_id = scenario.spec.source.partition(":")
        task = TASKS.get(task_id) if kind == "gymnasium" else None
        if task is None or task.outputs or task.needs_rne:
            usable = sorted(k for k, t in TASKS.items() if not t.outputs and not t.needs_rne)
            raise UserError(f"{cls.name} plans on MuJoCo tasks scored from qpos/qvel ({', '.join(usable)}), not {scenario.id}")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        from scenarios.batch.tasks import TASKS, prepare

        self.check_scenario(scenario, overrides)
        task = TASKS[scenario.spec.source.partition(":")[2]]
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        nominal = Scenario(scenario.spec.model_copy(update={"layers": []}))  # plan on the nominal model
        env = nominal.unwrapped
        self.task, self.p = task, prepare(task, env)
        self.model, self.frame_skip = env.model, int(env.frame_skip)
        self.nq, self.nv = self.model.nq, self.model.nv
        space = scenario.action_space(AGENT)
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        nthread = self.hparams["nthread"]
        self.datas = [mujoco.MjData(self.model) for _ in range(max(nthread, 1))]
        self.pool = mjrollout.Rollout(nthread=nthread if nthread > 1 else 0)
        self.rng = np.random.default_rng(seed)
        self.plan: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.last_time: np.ndarray | None = None
        self.physics_steps = 0

    def scores(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Summed task rewards of (B, H, nu) action sequences from (B, nstate) states, stopping at termination."""
        from scenarios.batch.tasks import Fields

        b, h, nu = actions.shape
        controls = np.repeat(actions, self.frame_skip, axis=1)
        traj, _ = self.pool.rollout(self.model, self.datas, states, controls)
        self.physics_steps += b * h * self.frame_skip
        ends = traj[:, self.frame_skip - 1 :: self.frame_skip]  # state after each env step, (B, H, nstate)
        qpos = ends[:, :, 1 : 1 + self.nq]
        qvel = ends[:, :, 1 + self.nq : 1 + self.nq + self.nv]
        prev_qpos = np.concatenate([states[:, None, 1 : 1 + self.nq], qpos[:, :-1]], axis=1)
        flat = lambda x: x.reshape(b * h, *x.shape[2:])  # noqa: E731
        before = self.task.before(self.p, Fields(qpos=flat(prev_qpos), qvel=flat(qvel)))
        r, term = self.task.reward(self.p, Fields(qpos=flat(qpos), qvel=flat(qvel)), before, flat(actions))
        r, term = r.reshape(b, h), term.reshape(b, h)
        alive = np.cumprod(np.concatenate([np.ones((b, 1), bool), ~term[:, :-1]], axis=1), axis=1)
        return (r * alive).sum(axis=1)

    def _prepare(self, states: np.ndarray) -> None:
        n, h, nu = len(states), self.hparams["horizon"], len(self.low)
        time = states[:, 0]
        if self.plan is None or len(self.plan) != n:
            self.plan = np.zeros((n, h, nu))
        else:
            self.plan[time <= self.last_time] = 0.0  # a copy started a new episode
        self.last_time = time

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True, states: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Plan from each copy's state and return the first action of each plan."""
        if states is None:
            raise UserError(f"{self.name} plans from the simulator state: evaluate it through testbed.evaluate")
        self._prepare(states)
        n, k = len(states), self.hparams["samples"]
        h, nu = self.plan.shape[1:]
        self.std = np.full((n, h, nu), self.hparams["noise_std"])  # every step searches afresh around the shifted plan
        for _ in range(self.hparams["iterations"]):
            noise = self.rng.standard_normal((n, k, h, nu)) * self.std[:, None]
            cand = np.clip(self.plan[:, None] + noise, self.low, self.high)
            cand[:, 0] = self.plan  # keep the incumbent plan among the candidates
            ret = self.scores(np.repeat(states, k, axis=0), cand.reshape(n * k, h, nu)).reshape(n, k)
            self.update(cand, ret)
        action = self.plan[:, 0].copy()
        self.plan = np.concatenate([self.plan[:, 1:], np.zeros((n, 1, nu))], axis=1)
        return {AGENT: action.astype(np.float32)}

    @abstractmethod
    def update(self, cand: np.ndarray, ret: np.ndarray) -> None:
        """Refit the plan from candidates (n, K, H, nu) and their returns (n, K)."""


class MPPI(SamplingPlanner):
    """Model-predictive path integral control on the nominal MuJoCo model."""

    name = "mppi"

    def update(self, cand: np.ndarray, ret: np.ndarray) -> None:
        """Softmax-weighted average of the candidates."""
        scale = self.hparams["temperature"] * (ret.std(axis=1, keepdims=True) + 1e-8)
        w = np.exp((ret - ret.max(axis=1, keepdims=True)) / scale)
        w /= w.sum(axis=1, keepdims=True)
        self.plan = np.einsum("nk,nkhu->nhu", w, cand)


class CEM(SamplingPlanner):
    """Cross-entropy method on the nominal MuJoCo model (predictive sampling with iterations: 1)."""

    name = "cem"

    def update(self, cand: np.ndarray, ret: np.ndarray) -> None:
        """Mean and std of the elite candidates."""
        n_elite = max(1, int(round(self.hparams["elite_fraction"] * cand.shape[1])))
        elite = np.take_along_axis(cand, np.argsort(-ret, axis=1)[:, :n_elite, None, None], axis=1)
        self.plan = elite.mean(axis=1)
        self.std = np.maximum(elite.std(axis=1), 0.05 * self.hparams["noise_std"])


PLANNERS = (MPPI, CEM)
