"""Tabular learners for repeated matrix games (Claus & Boutilier 1998).

- ``jal``: a joint-action learner. Each agent learns Q(own action, other's
  action) from its payoff and models the other agent by the empirical
  frequencies of its actions (fictitious play; ``opponent_decay`` < 1 weights
  recent rounds more, so beliefs formed during early exploration fade; 1.0 is
  classic fictitious play); it acts on the expected value EV(a) = sum_b P(b) Q(a, b).
- ``tabular_iql``: an independent learner. Each agent learns Q(own action)
  from its payoff alone, blind to the other agent.

Both treat the repeated game as stateless (the payoff of a round does not
depend on earlier rounds), update with step size ``alpha`` and explore with a
Boltzmann policy whose temperature decays geometrically from
``temperature`` to ``temperature_end`` over the training budget. The
literature's outcome for independent learners in the climbing game is
miscoordination: they settle on the safe joint actions rather than the
optimum (11 at (0, 0)). No maintained library implements these; they are ~100
lines here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, ProgressFn, TableHyperparameters
from agents.checkpoint import save_meta
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

DEFAULTS: dict[str, Any] = {"alpha": 0.1, "temperature": 10.0, "temperature_end": 0.01, "opponent_decay": 0.99,
                            "total_steps": None}


def boltzmann(values: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Sample an index with probability proportional to exp(value / temperature)."""
    z = (values - values.max()) / max(temperature, 1e-8)
    p = np.exp(z)
    return int(rng.choice(len(values), p=p / p.sum()))


class MatrixLearner(TableHyperparameters):
    """Independent or joint-action tabular learners for two-player repeated matrix games."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "jal"
    joint: ClassVar[bool] = True
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning="off-policy")

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario that is not a matrix game (``agents.registry.check_fits`` runs it)."""
        if not scenario.spec.source.startswith("matrix:"):
            raise UserError(f"{cls.name} plays the matrix/ games; {scenario.id} is not one")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.check_scenario(scenario, overrides)
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        self.agents = list(scenario.possible_agents)
        self.sizes = [int(scenario.action_space(a).n) for a in self.agents]
        n0, n1 = self.sizes
        if self.joint:  # q[k][own, other]
            self.q = [np.zeros((n0, n1)), np.zeros((n1, n0))]
        else:
            self.q = [np.zeros((n0, 1)), np.zeros((n1, 1))]
        self.counts = [np.ones(n1), np.ones(n0)]  # agent k's counts of the other's actions (Laplace prior)
        self.rng = np.random.default_rng(seed)
        self.steps_trained = 0
        self.temperature = self.hparams["temperature_end"]
        self._vec: Any = None  # the game, kept across learn() calls

    def values(self, k: int) -> np.ndarray:
        """Agent ``k``'s value of each of its actions (EV under its opponent model for JAL)."""
        if not self.joint:
            return self.q[k][:, 0]
        p = self.counts[k] / self.counts[k].sum()
        return self.q[k] @ p

    def opponent_model(self, k: int) -> np.ndarray:
        """Agent ``k``'s empirical distribution of the other agent's actions."""
        return self.counts[k] / self.counts[k].sum()

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Greedy (or Boltzmann at the final temperature) actions, the same for every copy's round."""
        n = len(next(iter(obs.values())))
        out = {}
        for k, a in enumerate(self.agents):
            v = self.values(k)
            if deterministic:
                out[a] = np.full(n, int(v.argmax()), np.int64)
            else:
                out[a] = np.array([boltzmann(v, self.temperature, self.rng) for _ in range(n)], np.int64)
        return out

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Play ``steps`` rounds, updating after each. The temperature anneals over ``total_steps``
        (default: the first call's steps) and a second call continues the first's game, so
        ``learn(k); learn(k)`` equals ``learn(2k)`` with ``total_steps=2k``."""
        h = self.hparams
        t0, t1, alpha = h["temperature"], h["temperature_end"], h["alpha"]
        decay = h["opponent_decay"]
        budget = declare_budget(h, self.steps_trained, steps)
        if self._vec is None:
            self._vec = self.scenario.vector(1, seed=self.seed)
            self._vec.reset()
        vec = self._vec
        for t in range(steps):
            done = min(self.steps_trained + t, budget - 1)
            self.temperature = t0 * (t1 / t0) ** (done / max(1, budget - 1))
            choice = [boltzmann(self.values(k), self.temperature, self.rng) for k in range(2)]
            _, rew, _, _, _ = vec.step({a: np.array([choice[k]]) for k, a in enumerate(self.agents)})
            for k, a in enumerate(self.agents):
                other = choice[1 - k]
                col = other if self.joint else 0
                self.q[k][choice[k], col] += alpha * (float(rew[a][0]) - self.q[k][choice[k], col])
                self.counts[k] *= decay
                self.counts[k][other] += 1
            if progress and (t % 1000 == 0 or t == steps - 1):
                progress(t + 1, steps)
        self.steps_trained += steps

    def save(self, path: str | Path) -> Path:
        """Write ``tables.npz`` and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / "tables.npz", q0=self.q[0], q1=self.q[1], c0=self.counts[0], c1=self.counts[1])
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> MatrixLearner:
        """Restore the tables."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        data = np.load(path / "tables.npz")
        agent.q = [data["q0"], data["q1"]]
        agent.counts = [data["c0"], data["c1"]]
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


class JAL(MatrixLearner):
    """Joint-action learner with a fictitious-play opponent model (matrix games)."""

    name = "jal"
    joint = True


class TabularIQL(MatrixLearner):
    """Independent tabular Q-learners, each blind to the other (matrix games)."""

    name = "tabular_iql"
    joint = False


MATRIX_AGENTS = (JAL, TabularIQL)
