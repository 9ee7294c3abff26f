"""Tabular methods for discrete scenarios (the ``toytext/`` family).

``value_iteration`` and ``policy_iteration`` plan with the known transition
model (Gymnasium toy-text's ``env.unwrapped.P``: state -> action -> list of
(probability, next state, reward, terminated)); ``q_learning`` and ``sarsa``
learn from experience on the vectorized face, bootstrapping through time-limit
truncations and not through terminations. All act greedily on their table when
``deterministic``; otherwise they explore with ``agents.exploration``.
Written here because no maintained library ships these over PettingZoo/Gymnasium 1.x.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, ProgressFn, require_single_agent
from agents.checkpoint import save_meta
from agents.exploration import Explorer
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {"gamma": 0.99, "tolerance": 1e-12, "max_iterations": 100_000, "alpha": 0.1, "n_envs": 8,
                            "exploration": "epsilon", "eps_start": 1.0, "eps_end": 0.05, "eps_fraction": 0.5,
                            "temperature": 1.0, "total_steps": None}


class TabularAgent:
    """Shared set-up, acting and checkpointing of the tabular methods (a Q-table per state)."""

    name: ClassVar[str]
    capabilities = Capabilities(continuous_actions=False, multi_agent="single", learning="off-policy")
    own: ClassVar[set[str]] = set()

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """Names accepted by ``agents.make`` and ``--set``."""
        return {"gamma"} | cls.own

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default; its type is the one ``agents.make`` checks values against."""
        return {k: DEFAULTS[k] for k in cls.valid_hyperparameters()}

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario without one agent of discrete observations and actions."""
        require_single_agent(cls.name, scenario)
        obs, act = scenario.observation_space(AGENT), scenario.action_space(AGENT)
        if not isinstance(obs, spaces.Discrete) or not isinstance(act, spaces.Discrete):
            raise UserError(f"{cls.name} needs discrete observations and actions; {scenario.id} has {obs} and {act}")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.check_scenario(scenario, overrides)
        obs, act = scenario.observation_space(AGENT), scenario.action_space(AGENT)
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters())
        self.gamma = self.hparams.get("gamma", 0.99)
        self.n_states, self.n_actions = int(obs.n), int(act.n)
        self.q = np.zeros((self.n_states, self.n_actions))
        self.rng = np.random.default_rng(seed)
        self.steps_trained = 0
        self.explorer = Explorer(self.hparams.get("exploration", "epsilon"), self.hparams.get("eps_start", 1.0),
                                 self.hparams.get("eps_end", 0.05), self.hparams.get("eps_fraction", 0.5),
                                 self.hparams.get("temperature", 1.0))

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Greedy (or exploratory) actions from the table."""
        q = self.q[np.asarray(obs[AGENT], dtype=np.int64)]
        if deterministic:
            return {AGENT: q.argmax(axis=1)}
        return {AGENT: self.explorer.select(q, self.rng, 1.0)}

    def save(self, path: str | Path) -> Path:
        """Write ``table.npz`` and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / "table.npz", q=self.q)
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> TabularAgent:
        """Restore the table."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.q = np.load(path / "table.npz")["q"]
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


class _ModelBased(TabularAgent):
    own: ClassVar[set[str]] = {"tolerance", "max_iterations"}
    capabilities = Capabilities(continuous_actions=False, multi_agent="single", learning="model")

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Also refuse, in one line, a scenario without a known transition model."""
        super().check_scenario(scenario, h)
        if getattr(scenario.unwrapped, "P", None) is None:
            raise UserError(f"{cls.name} needs a known transition model (env.unwrapped.P); {scenario.id} has none")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        super().__init__(scenario, seed, **overrides)
        P = scenario.unwrapped.P
        # dense model: T[s, a, s'] probabilities, R[s, a] expected reward, continuation mask per transition
        self.T = np.zeros((self.n_states, self.n_actions, self.n_states))
        self.R = np.zeros((self.n_states, self.n_actions))
        for s, by_action in P.items():
            for a, outcomes in by_action.items():
                for prob, nxt, reward, terminated in outcomes:
                    self.R[s, a] += prob * reward
                    if not terminated:
                        self.T[s, a, nxt] += prob
        self.tolerance = self.hparams.get("tolerance", 1e-12)
        self.max_iterations = self.hparams.get("max_iterations", 100_000)
        self.v = np.zeros(self.n_states)

    def q_from(self, v: np.ndarray) -> np.ndarray:
        """One Bellman backup: Q(s, a) = R(s, a) + gamma * sum_s' T(s, a, s') V(s')."""
        return self.R + self.gamma * self.T @ v


class ValueIteration(_ModelBased):
    """Value iteration with the known model, to the given tolerance."""

    name = "value_iteration"

    def learn(self, steps: int = 0, progress: ProgressFn | None = None) -> None:
        """Iterate Bellman optimality backups until the largest change is below tolerance."""
        v = self.v
        for i in range(self.max_iterations):
            q = self.q_from(v)
            new = q.max(axis=1)
            delta = np.abs(new - v).max()
            v = new
            if delta < self.tolerance:
                break
        self.v, self.q, self.steps_trained = v, self.q_from(v), i + 1
        if progress:
            progress(1, 1)


class PolicyIteration(_ModelBased):
    """Policy iteration: exact policy evaluation (a linear solve), then greedy improvement."""

    name = "policy_iteration"

    def evaluate_policy(self, policy: np.ndarray) -> np.ndarray:
        """Exact values of a deterministic policy: solve (I - gamma T_pi) V = R_pi."""
        idx = np.arange(self.n_states)
        return np.linalg.solve(np.eye(self.n_states) - self.gamma * self.T[idx, policy], self.R[idx, policy])

    def learn(self, steps: int = 0, progress: ProgressFn | None = None) -> None:
        """Alternate evaluation and improvement until the policy is stable."""
        policy = np.zeros(self.n_states, dtype=np.int64)
        for i in range(self.max_iterations):
            v = self.evaluate_policy(policy)
            q = self.q_from(v)
            best = q.max(axis=1, keepdims=True)
            # keep the current action on ties, so the loop ends
            keep = q[np.arange(self.n_states), policy] >= best[:, 0] - 1e-12
            new = np.where(keep, policy, q.argmax(axis=1))
            if np.array_equal(new, policy):
                break
            policy = new
        self.v, self.q, self.steps_trained = v, q, i + 1
        if progress:
            progress(1, 1)


class _TemporalDifference(TabularAgent):
    own: ClassVar[set[str]] = {"alpha", "n_envs", "exploration", "eps_start", "eps_end", "eps_fraction", "temperature",
                               "total_steps"}
    on_policy_target: ClassVar[bool]

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        super().__init__(scenario, seed, **overrides)
        self._vec: Any = None  # the training copies, their states and pending actions, kept across learn() calls
        self._s = self._a = np.zeros(0, np.int64)

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """``steps`` environment steps of TD updates on ``n_envs`` copies.

        A second call continues the first (the same copies mid-episode, their pending actions);
        exploration decays over ``total_steps`` (default: the first call's steps), so
        ``learn(k); learn(k)`` equals ``learn(2k)`` with ``total_steps=2k``."""
        n = int(self.hparams.get("n_envs", 8))
        alpha = float(self.hparams.get("alpha", 0.1))
        budget = max(declare_budget(self.hparams, self.steps_trained, steps), 1)
        if self._vec is None:
            self._vec = self.scenario.vector(n, seed=self.seed)
            obs, _ = self._vec.reset()
            self._s = np.asarray(obs[AGENT], dtype=np.int64)
            self._a = self.explorer.select(self.q[self._s], self.rng, 0.0)
        vec, s, a = self._vec, self._s, self._a
        done_steps = 0
        while done_steps < steps:
            frac = min(1.0, (self.steps_trained + done_steps) / budget)
            obs, rew, term, trunc, infos = vec.step({AGENT: a})
            nxt = np.asarray(obs[AGENT], dtype=np.int64)
            r, terminated = rew[AGENT], term[AGENT]
            ended = terminated | trunc[AGENT]
            # on an episode end the returned obs is the next episode's: bootstrap from the final observation
            final = nxt.copy()
            for i in np.flatnonzero(ended):
                final[i] = int(infos[i]["final_observation"][AGENT])
            a_next = self.explorer.select(self.q[nxt], self.rng, frac)
            if self.on_policy_target:
                a_final = np.where(ended, self.explorer.select(self.q[final], self.rng, frac), a_next)
                target_q = self.q[final, a_final]
            else:
                target_q = self.q[final].max(axis=1)
            target = r + self.gamma * np.where(terminated, 0.0, target_q)
            for i in range(n):  # sequential: copies may share a state-action pair
                self.q[s[i], a[i]] += alpha * (target[i] - self.q[s[i], a[i]])
            s, a = nxt, a_next
            done_steps += n
            if progress:
                progress(min(done_steps, steps), steps)
        self._s, self._a = s, a
        self.steps_trained += done_steps


def td_capabilities(on_policy_target: bool) -> Capabilities:
    """A TD method's capabilities, its data regime following its backup: SARSA backs up the
    next action its own policy chose (on-policy), Q-learning the greedy one (off-policy)."""
    return Capabilities(continuous_actions=False, multi_agent="single",
                        learning="on-policy" if on_policy_target else "off-policy")


class QLearning(_TemporalDifference):
    """Q-learning: off-policy TD control with a max backup."""

    name = "q_learning"
    on_policy_target = False
    capabilities = td_capabilities(on_policy_target)


class Sarsa(_TemporalDifference):
    """SARSA: on-policy TD control, backing up the next action actually chosen."""

    name = "sarsa"
    on_policy_target = True
    capabilities = td_capabilities(on_policy_target)


TABULAR_AGENTS = (ValueIteration, PolicyIteration, QLearning, Sarsa)
