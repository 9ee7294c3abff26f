"""DAgger (Ross, Gordon & Bagnell 2011): roll out the learner, ask the expert what it
would have done in every visited state, aggregate, retrain by behavioural cloning.

The expert is any agent: a checkpoint folder, or the name of an agent that needs
no training (``mppi``, ``cem``, a scripted heuristic), built with
``expert_hparams``. Planners get each copy's simulator state, as in the
harness. Round ``i`` acts with the expert with probability ``beta * decay**i``
(per step and copy; round 0 is pure expert when ``beta`` is 1), and otherwise
with the learner; the expert labels every visited observation. ``learn(steps)``
spreads ``steps`` environment steps over ``rounds`` rounds; after each round the
BC policy is retrained on the aggregate (``bc_steps`` gradient steps, or
``epochs`` passes when 0). An optional ``dataset`` seeds the aggregate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, ProgressFn, TableHyperparameters
from agents.checkpoint import save_meta
from agents.imitation.bc import DEFAULTS as BC_DEFAULTS
from agents.imitation.bc import BehaviouralCloning
from agents.imitation.dataset import _expert_actions
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

DEFAULTS: dict[str, Any] = {**BC_DEFAULTS, "expert": None, "expert_hparams": {}, "rounds": 5, "beta": 1.0,
                            "decay": 0.5, "n_envs": 4, "bc_steps": 0, "epochs": 20, "total_steps": None}


def load_expert(expert: Any, scenario: Scenario, expert_hparams: dict[str, Any], seed: int | None) -> Any:
    """An expert agent from a checkpoint folder or an untrained agent's name."""
    import agents

    if not expert:
        raise UserError("dagger needs an expert: --set expert=CHECKPOINT_OR_AGENT (e.g. expert=mppi)")
    if Path(str(expert)).exists():
        return agents.load(str(expert), scenario)
    cls = agents.agent_class(str(expert))
    if cls.capabilities.needs_training:
        raise UserError(f"expert '{expert}' needs training: give a checkpoint folder or an agent that needs none (mppi, cem...)")
    return agents.make(str(expert), scenario, seed=seed, **(expert_hparams or {}))


class DAgger(TableHyperparameters):
    """Dataset Aggregation with any agent or planner as the queried expert."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "dagger"
    capabilities = Capabilities(multi_agent="any", learning="interactive")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                               DEFAULTS)
        bc_keys = {k: h[k] for k in BC_DEFAULTS if k != "epochs"}
        self.bc = BehaviouralCloning(scenario, seed=seed, **{**bc_keys, "epochs": h["epochs"]})
        self.rng = np.random.default_rng(seed)
        self.expert: Any = None
        self.steps_trained = 0
        self.round = 0
        self.history: list[dict[str, Any]] = []

    def policy_distribution(self, agent: str, obs: Any) -> Any:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d). (its BC policy's)."""
        return self.bc.policy_distribution(agent, obs)

    def value(self, agent: str, obs: Any) -> Any:
        """DAgger learns no critic."""
        raise UserError(f"{self.name} learns no value function")

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The learner's (BC) action."""
        return self.bc.act(obs, deterministic)

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Rounds of (mixed roll-out, expert labels, aggregate, retrain) of ``total_steps / rounds``
        steps each (``total_steps``: the declared budget, default the first call's steps); a second
        call continues the first's copies, episodes and rounds."""
        h = self.hparams
        if self.expert is None:
            self.expert = load_expert(h["expert"], self.scenario, dict(h["expert_hparams"] or {}), self.seed)
        n, rounds = h["n_envs"], h["rounds"]
        agents_ = list(self.scenario.possible_agents)
        obs_buf = {a: [self.bc.data[a][0]] if a in self.bc.data else [] for a in agents_}
        act_buf = {a: [self.bc.data[a][1]] if a in self.bc.data else [] for a in agents_}
        budget = declare_budget(h, self.steps_trained, steps)
        if getattr(self, "_rollout", None) is None:
            vec = self.scenario.vector(n, seed=self.seed)
            self._rollout = (vec, vec.reset()[0])
        vec, obs = self._rollout
        per_round = max(n, budget // rounds)
        done = 0
        while done < steps:
            beta = h["beta"] * h["decay"] ** self.round
            returns: list[float] = []
            for _t in range(max(1, min(per_round, steps - done) // n)):
                expert = _expert_actions(self.expert, vec, obs, deterministic=True)
                use_expert = self.rng.random(n) < beta
                if use_expert.all() or not self.bc.data:
                    actions = expert
                else:
                    learner = self.bc.act(obs)
                    actions = {a: np.where(use_expert.reshape(-1, *[1] * (learner[a].ndim - 1)), expert[a], learner[a])
                               for a in agents_}
                for a in agents_:
                    obs_buf[a].append(obs[a].copy())
                    act_buf[a].append(np.asarray(expert[a]).copy())
                obs, _, _, _, infos = vec.step(actions)
                returns += [sum(i["episode"]["returns"].values()) for i in infos if "episode" in i]
                done += n
            self.bc.set_data({a: np.concatenate(obs_buf[a]) for a in agents_}, {a: np.concatenate(act_buf[a]) for a in agents_})
            self.bc.learn(h["bc_steps"])
            self.history.append({"round": self.round, "beta": beta, "samples": len(self.bc.data[agents_[0]][0]),
                                 "rollout_return": float(np.mean(returns)) if returns else None})
            self.round += 1
            if progress:
                progress(min(done, steps), steps)
        self._rollout = (vec, obs)
        self.steps_trained += done

    def save(self, path: str | Path) -> Path:
        """Write the BC networks (``bc.pt``) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        import torch

        torch.save(self.bc.nets.state_dict(), path / "bc.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> DAgger:
        """Restore the learner (the expert is rebuilt only if training continues)."""
        import torch

        agent = cls(scenario, seed=meta.get("seed"), **{**meta["hparams"], "dataset": None})
        agent.bc.nets.load_state_dict(torch.load(path / "bc.pt", weights_only=True))
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
