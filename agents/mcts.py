"""Monte-Carlo tree search (UCT; Kocsis & Szepesvari 2006) for discrete scenarios whose state can be copied.

Each step, for every copy, the search starts from a deep copy of that copy's
environment (``VectorScenario.snapshots()``), grows an open-loop tree over
action sequences with UCB1 selection, finishes each simulation with a random
rollout, and acts with the most-visited root action. Every simulation reseeds
its copy's generator, so stochastic transitions (slippery FrozenLake) are
sampled, not replayed. No maintained library does this over Gymnasium 1.x
envs, hence our own.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from agents import hyperparams
from agents.base import Capabilities, NoTraining, require_single_agent, TableHyperparameters
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {"simulations": 200, "depth": 30, "rollout_depth": 30, "exploration": 1.4, "gamma": 0.99}


class _Node:
    __slots__ = ("children", "visits", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.visits = 0
        self.value = 0.0


class MCTS(TableHyperparameters, NoTraining):
    """UCT planning on copies of the live environment (discrete actions, one agent)."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "mcts"
    capabilities = Capabilities(continuous_actions=False, multi_agent="single", needs_training=False, learning="planning",
                                needs_state="snapshot")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        require_single_agent(self.name, scenario)
        space = scenario.action_space(AGENT)
        if not isinstance(space, spaces.Discrete):
            raise UserError(f"{self.name} needs discrete actions; {scenario.id} has {space}")
        self.scenario, self.seed = scenario, seed
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        self.n_actions = int(space.n)
        self.rng = np.random.default_rng(seed)

    def _simulate(self, root_env: Any, root: _Node) -> None:
        h = self.hparams
        env = copy.deepcopy(root_env)
        env.np_random = np.random.default_rng(int(self.rng.integers(2**63)))
        path, rewards, node, done = [root], [], root, False
        for _ in range(h["depth"]):
            untried = [a for a in range(self.n_actions) if a not in node.children]
            if untried:
                a = int(self.rng.choice(untried))
                node.children[a] = _Node()
            else:
                log_n = math.log(node.visits)
                a = max(node.children, key=lambda b: node.children[b].value
                        + h["exploration"] * math.sqrt(log_n / node.children[b].visits))
            _, r, term, trunc, _ = env.step(a)
            rewards.append(float(r))
            node = node.children[a]
            path.append(node)
            done = term or trunc
            if done or untried:
                break
        tail, discount = 0.0, 1.0
        if not done:
            for _ in range(h["rollout_depth"]):
                _, r, term, trunc, _ = env.step(int(self.rng.integers(self.n_actions)))
                tail += discount * float(r)
                discount *= h["gamma"]
                if term or trunc:
                    break
        g = tail
        for k in range(len(path) - 1, -1, -1):
            if k < len(rewards):
                g = rewards[k] + h["gamma"] * g
            n = path[k]
            n.visits += 1
            n.value += (g - n.value) / n.visits

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True, states: list[Any] | None = None) -> dict[str, np.ndarray]:
        """The most-visited root action of a fresh search from each copy's environment."""
        if states is None:
            raise UserError(f"{self.name} searches from copies of the environment: evaluate it through testbed.evaluate")
        actions = np.zeros(len(states), np.int64)
        for i, env in enumerate(states):
            root = _Node()
            for _ in range(self.hparams["simulations"]):
                self._simulate(env, root)
            actions[i] = max(root.children, key=lambda a: root.children[a].visits)
        return {AGENT: actions}
