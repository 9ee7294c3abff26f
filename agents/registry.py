"""Agent names to classes: ``make``, ``load`` and ``list_names``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from agents.a3c import A3C
from agents.fast_ppo import FastPPO
from agents.fast_sac import FastSAC
from agents.adversarial.adv_training import AdversarialPPO
from agents.adversarial.rarl import RARL
from agents import budget, config, divergence, hyperparams, private_rng
from agents import training_state as state
from agents.base import check_support
from agents.checkpoint import check_compatible, read_meta
from agents.imitation.bc import BehaviouralCloning
from agents.imitation.adversarial_il import ADVERSARIAL_IL
from agents.imitation.dagger import DAgger
from agents.impala import IMPALA
from agents.marl.heuristics import HEURISTICS
from agents.marl.jal import MATRIX_AGENTS
from agents.marl.joint import JOINT_AGENTS
from agents.marl.maddpg import MADDPG
from agents.marl.ppo import PPO_AGENTS
from agents.marl.value_decomposition import VALUE_AGENTS
from agents.mcts import MCTS
from agents.planning import PLANNERS
from agents.random_agent import RandomAgent
from agents.reinforce import Reinforce
from agents.dqn import DQN_AGENTS
from agents.sb3_agent import SB3_AGENTS
from agents.i2a import I2A
from agents.mbpo import MBPO
from agents.mbve import MBVE
from agents.pets import PETS
from agents.tabular import TABULAR_AGENTS
from scenarios import Scenario, ScenarioSpec, UserError
from scenarios import make as make_scenario
from scenarios.errors import check_seed, suggest

AGENTS: dict[str, Any] = {cls.name: cls for cls in (RandomAgent, *SB3_AGENTS, *TABULAR_AGENTS, *DQN_AGENTS, Reinforce, *PLANNERS, MCTS, *PPO_AGENTS, *VALUE_AGENTS, *HEURISTICS, MADDPG, *JOINT_AGENTS, *MATRIX_AGENTS, BehaviouralCloning, DAgger, *ADVERSARIAL_IL, AdversarialPPO, RARL, A3C, IMPALA, FastPPO, FastSAC, PETS, MBPO, MBVE, I2A)}

ENTRY_POINTS: dict[str, str] = {"adr": "sim2real.adr:ADR"}
"""Agents that live in packages above ``agents`` (as Gymnasium's ``entry_point="pkg.module:Class"``):
named here as data and imported only when first asked for, so ``import agents`` imports nothing above it."""


def register(name: str, entry_point: str) -> None:
    """Register an agent class by ``"package.module:Class"``; it is imported on first use."""
    if name in AGENTS or name in ENTRY_POINTS:
        raise UserError(f"agent '{name}' is already registered")
    module, sep, attr = entry_point.partition(":")
    if not sep or not module or not attr:
        raise UserError(f"entry point '{entry_point}' must look like 'package.module:Class'")
    ENTRY_POINTS[name] = entry_point


def list_names() -> list[str]:
    """Every registered agent name, sorted."""
    return sorted({*AGENTS, *ENTRY_POINTS})


def agent_class(name: str) -> Any:
    """The class registered under ``name``; an unknown name suggests the closest ones."""
    if name not in AGENTS and name in ENTRY_POINTS:
        module, _, attr = ENTRY_POINTS[name].partition(":")
        AGENTS[name] = getattr(importlib.import_module(module), attr)
    if name not in AGENTS:
        names = list_names()
        raise UserError(f"unknown agent '{name}'{suggest(name, names)} (valid: {', '.join(names)})")
    return AGENTS[name]


def _scenario(scenario: Scenario | str | dict | ScenarioSpec) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else make_scenario(scenario)


def check_for_scenario(name: str, config: dict[str, Any], sc: Scenario) -> None:
    """Refuse, in one line, a value the catalog accepts but ``sc`` cannot take: ``backend: batch`` where no
    batched backend runs the scenario, ``use_sde: true`` (gSDE) where an agent's actions are not continuous,
    ``her: true`` with a ``learning_starts`` before any episode can have ended (SB3 learners)."""
    from gymnasium import spaces

    if config.get("backend") == "batch":
        from scenarios.batch import batch_unsupported

        reason = batch_unsupported(sc.spec)
        if reason is not None:
            raise UserError(f"{name}: backend batch does not run {sc.id} (valid here: auto, gymnasium): {reason}")
    check_her_start = getattr(agent_class(name), "check_her_start", None)  # SB3's hindsight buffer: agents.sb3_agent
    if check_her_start is not None:
        check_her_start(config, sc)
    check_n_step_dict = getattr(agent_class(name), "check_n_step_dict", None)  # SB3's off-policy n-step returns
    if check_n_step_dict is not None:
        check_n_step_dict(config, sc)
    if config.get("use_sde") is True:
        discrete = [a for a in sc.possible_agents if not isinstance(sc.action_space(a), spaces.Box)]
        if discrete:
            raise UserError(f"{name}: use_sde true (gSDE) needs continuous actions, but {discrete[0]} of {sc.id} has "
                            f"{sc.action_space(discrete[0])} (valid here: use_sde false)")


def check_fits(name: str, sc: Scenario, hparams: dict[str, Any]) -> None:
    """Refuse, in one line, what ``make`` refuses before it builds agent ``name`` on ``sc`` with the checked
    overrides ``hparams``: a scenario whose actions, observations or setting the agent does not support, an
    inconsistent pair in the merged config, a value ``sc`` cannot take, and what the agent's own
    ``check_scenario(sc, config)`` classmethod refuses (its constructor's checks, run without building).
    ``testbed run`` checks every agent x scenario of a study with it before any job trains (pets on
    CartPole, i2a on FrozenLake or a3c on speaker_listener failed there after the other jobs ran)."""
    cls = agent_class(name)
    check_support(name, cls.capabilities, sc)
    defaults = getattr(cls, "default_hyperparameters", None)
    merged = dict(hparams)
    if defaults is not None:
        merged = {**defaults(), **hyperparams.tuned_defaults(name, sc.id), **hparams}
        config.check_pairs(name, merged, cls.capabilities.learning)
        check_for_scenario(name, merged, sc)
    check_scenario = getattr(cls, "check_scenario", None)  # what the constructor would refuse about sc: every
    if check_scenario is not None:  # agent's, scripted ones without hyperparameters too (jal, mppi, the heuristics
        check_scenario(sc, merged)  # on other families were accepted here and refused by make)


def make(name: str, scenario: Scenario | str | dict | ScenarioSpec, seed: int | None = None, **hparams: Any) -> Any:
    """Build agent ``name`` for ``scenario`` with tuned defaults overridden by ``hparams``.

    >>> import agents
    >>> agent = agents.make("random", "classic/CartPole-v1", seed=0)
    """
    cls = agent_class(name)
    check_seed(seed)
    defaults = getattr(cls, "default_hyperparameters", None)
    if defaults is not None:
        hparams = hyperparams.check_values(name, hparams, defaults())
    if hasattr(cls, "valid_hyperparameters"):  # a misspelt name first, before what the scenario refuses (as the index)
        hyperparams.check_names(name, hparams, cls.valid_hyperparameters())
    sc = _scenario(scenario)
    check_fits(name, sc, hparams)
    return private_rng.build(lambda: budget.checked(divergence.guard(cls(sc, seed=seed, **hparams))), seed)


def save(agent: Any, path: str | Path, training_state: bool = False) -> Path:
    """Write ``agent``'s checkpoint folder; with ``training_state`` also everything training needs to go
    on exactly where it stopped (optimizers, replay buffers, environment copies mid-episode, random
    generators: ``agents.training_state``), so that ``load(path).learn(k)`` equals training on without
    the interruption."""
    captured = None
    if training_state:
        rng = private_rng.states_of(agent)
        if rng is not None and rng.depth:
            raise UserError("agents.save(training_state=True) cannot run inside the agent's own call")
        captured = state.capture(agent)  # first: a state that cannot be saved is refused before anything is written
    out = Path(agent.save(path))
    if captured is not None:
        state.save(agent, out, captured)
    return out


def load(path: str | Path, scenario: Scenario | str | dict | ScenarioSpec | None = None, resume: bool = False) -> Any:
    """Restore a checkpoint; with ``scenario`` given, refuse it if its spaces differ. With ``resume``,
    also its training state (``save(..., training_state=True)``), so ``learn`` goes on exactly where
    the saved agent stopped; a checkpoint without one is refused for ``resume``."""
    path = Path(path)
    meta = read_meta(path)
    cls = agent_class(meta["agent"])
    sc = _scenario(scenario if scenario is not None else ScenarioSpec.model_validate(meta["scenario"]))
    check_compatible(meta, sc, str(path))
    agent = private_rng.build(lambda: budget.checked(divergence.guard(cls.load(path, sc, meta))), meta.get("seed"))
    if resume:
        if not state.exists(path):
            raise UserError(f"checkpoint {path} has no training state to resume from (save it with training_state=True)")
        state.load(agent, path)
    return agent
