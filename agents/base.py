"""The one protocol every method implements, and its capability flags.

An agent acts on the vectorized face: ``act`` takes ``dict[agent, (N, ...)]``
observations and returns ``dict[agent, (N, ...)]`` actions, so inference is
batched over copies. ``learn`` trains for a number of environment steps;
``save`` writes a checkpoint folder that ``agents.load`` restores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

from scenarios import UserError

if TYPE_CHECKING:
    from scenarios import Scenario

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done_steps, total_steps)`` while an agent learns."""


class NotTrained(UserError):
    """An agent asked for its policy before ``learn`` or ``load`` built one (one line, as every UserError).

    Its own type so a check made before training (an experiment spec's attacks) can tell "not yet" from "never"."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} has not been trained or loaded: call learn() first")


LEARNING: dict[str, str] = {
    "on-policy": "updates only from experience of its current policy (PPO, A2C, REINFORCE, SARSA)",
    "off-policy": "updates from replayed or exploratory experience of other policies (DQN, SAC, Q-learning)",
    "offline": "learns from a fixed dataset, without interacting (behavioural cloning)",
    "interactive": "imitation that labels the states its own policy visits with an expert (DAgger)",
    "model": "solves the known model by dynamic programming, no sampled experience (value/policy iteration)",
    "planning": "nothing learned: plans with the simulator at every step (MPPI, CEM, MCTS)",
    "none": "nothing learned and no model (random, scripted heuristics)",
}
"""How a method gets the data it learns from: the ``policy`` column of ``testbed list agents``."""


@dataclass(frozen=True)
class Capabilities:
    """What an agent supports, so the CLI and test grids can skip pairs that do not fit.

    ``learning`` is the method's data regime, one of ``LEARNING``; set it from the method's
    definition (an SB3 algorithm's base class, SARSA's on-policy backup), never by hand
    where the definition can give it."""

    discrete_actions: bool = True
    continuous_actions: bool = True
    multi_agent: str = "single"  # "single" (one-agent scenarios only) | "any"
    needs_training: bool = True
    learning: str = "on-policy"
    needs_state: str | None = None  # planners: "physics" (MuJoCo state rows) or "snapshot" (env copies)
    competitive: bool = True  # False: optimizes one team reward, so cooperative scenarios only
    goal_observations: bool = False  # takes goal-conditioned Dict observations (else: add the goal_flatten layer)

    def __post_init__(self) -> None:
        if self.learning not in LEARNING:
            raise ValueError(f"unknown learning regime '{self.learning}' (valid: {', '.join(LEARNING)})")
        if self.needs_training != (self.learning not in ("planning", "none")):
            raise ValueError(f"learning '{self.learning}' contradicts needs_training={self.needs_training}")

    @property
    def on_policy(self) -> bool:
        """Whether the method learns only from its current policy's experience."""
        return self.learning == "on-policy"


def check_support(name: str, caps: Capabilities, scenario: Scenario) -> None:
    """Refuse, in one line, a scenario whose actions or setting a method does not support."""
    kinds = {type(scenario.action_space(a)).__name__ for a in scenario.possible_agents}
    if not caps.discrete_actions and kinds & {"Discrete", "MultiDiscrete", "MultiBinary"}:
        raise UserError(f"{name} supports continuous actions only; {scenario.id} has discrete actions")
    if not caps.continuous_actions and "Box" in kinds:
        raise UserError(f"{name} supports discrete actions only; {scenario.id} has continuous actions")
    if not caps.goal_observations:
        from scenarios.goals import is_goal_space

        goal = [a for a in scenario.possible_agents if is_goal_space(scenario.observation_space(a))]
        if goal:
            raise UserError(f"{name} needs flat observations; {scenario.id} has goal-conditioned Dict observations: "
                            "add a goal_flatten layer to its spec (layers: [{type: goal_flatten}]) or use an SB3 learner (sac, td3, ddpg, tqc, ppo)")
    if not caps.competitive and scenario.spec.setting != "cooperative":
        raise UserError(
            f"{name} optimizes one team reward and supports cooperative scenarios only; {scenario.id} is "
            f"{scenario.spec.setting} (use ippo, mappo, maddpg or iql)"
        )
    if caps.multi_agent == "single":  # also before a study's jobs run (``agents.registry.check_fits``)
        require_single_agent(name, scenario)


@runtime_checkable
class Agent(Protocol):
    """An agent: built by ``agents.make(name, scenario, seed, **hyperparameters)``, it learns on a
    scenario, acts on batched (or single) observations, saves a checkpoint that its class's
    ``load`` restores, and declares its ``capabilities``. Its typed config is
    ``agents.config.config_of(agent)``; agents with a differentiable policy add
    ``policy_distribution(agent_id, obs)`` and ``value(agent_id, obs)``.
    ``tests/test_agent_protocol.py`` checks every registered agent against it."""

    name: str
    scenario: Scenario
    seed: int | None
    capabilities: Capabilities

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Train for ``steps`` environment steps (a second call continues the first)."""

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Batched actions for batched observations, per agent."""

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint folder; returns its path."""

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> Any:
        """Restore an agent from ``save``'s folder (``agents.load`` reads ``meta`` and checks the spaces)."""

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """The names ``make`` and ``--set`` accept."""

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default (the typed config's defaults)."""


class TableHyperparameters:
    """The hyperparameter surface of a learner whose hyperparameters are one table, the class's
    ``DEFAULTS`` (name -> default; ``agents.make`` checks each value against its default's type):
    the names ``make`` and ``--set`` accept are the table's keys."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """The names ``make`` and ``--set`` accept: the keys of ``default_hyperparameters``."""
        return set(cls.default_hyperparameters())

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default (a copy of ``DEFAULTS``)."""
        return dict(cls.DEFAULTS)


def require_single_agent(name: str, scenario: Scenario) -> None:
    """Refuse a multi-agent scenario for a single-agent method, in one line."""
    if scenario.num_agents != 1:
        raise UserError(f"{name} is single-agent; {scenario.id} has {scenario.num_agents} agents")


def require_box_agent(name: str, scenario: Scenario) -> None:
    """Refuse, in one line, a scenario other than one agent with continuous (Box) observations and actions."""
    require_single_agent(name, scenario)
    agent = scenario.possible_agents[0]
    act_space, obs_space = scenario.action_space(agent), scenario.observation_space(agent)
    if not isinstance(act_space, spaces.Box) or not isinstance(obs_space, spaces.Box):
        raise UserError(f"{name} needs continuous (Box) observations and actions; {scenario.id} has {obs_space} / {act_space}")


class NoTraining:
    """Shared ``learn``/``save``/``load`` of methods with nothing to train (planners, random):
    a checkpoint is their settings alone."""

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """None, unless a subclass declares its own (planners do)."""
        return set()

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """None, unless a subclass declares its own."""
        return {}

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Nothing to learn."""
        if progress:
            progress(steps, steps)

    def save(self, path: str | Path) -> Path:
        """Write the metadata-only checkpoint."""
        from agents.checkpoint import save_meta

        return save_meta(self, path)

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> Any:
        """Rebuild from the stored settings."""
        return cls(scenario, seed=meta.get("seed"), **meta.get("hparams", {}))


def wrap_learn(agent: Any, marker: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Any:
    """Replace ``agent.learn`` by ``wrap(agent.learn)`` once (``marker`` names the wrapping, so a second
    call leaves it as is); a class that refuses instance attributes keeps its own. Returns the agent."""
    learn: Callable[..., Any] | None = getattr(agent, "learn", None)
    if learn is None or getattr(learn, marker, False):
        return agent
    call = wrap(learn)
    setattr(call, marker, True)
    try:
        agent.learn = call
    except AttributeError:
        pass
    return agent
