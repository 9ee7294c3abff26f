"""Joint-action learners: one centralized controller over the team's joint action.

``joint_ppo`` and ``joint_q`` treat a cooperative multi-agent scenario as one
agent: the observation is every agent's (flattened) observation concatenated,
the action is the joint action, the reward is the team reward (the scenario's
``team_reward`` aggregation: sum by default). The learning itself is
Stable-Baselines3 (PPO; DQN over the product of discrete actions) behind
``JointVecEnv``, our SB3 view of the vectorized face with SB3's truncation
convention. No major library ships a joint-action learner for PettingZoo.

Joint actions: all-Discrete teams use ``MultiDiscrete`` for PPO and the product
``Discrete(n_1 * ... * n_k)`` for Q-learning (refused above ``max_joint_actions``);
all-Box teams use the concatenated Box (PPO only).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.vec_env import VecEnv

from agents.base import Capabilities, NotTrained
from agents.marl.groups import encode, obs_dim
from agents.sb3_agent import SB3Agent, sb3_learning
from agents.sb3_vecenv import ScenarioCopies
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

MAX_JOINT_ACTIONS = 4096


def joint_spaces(scenario: Any, product: bool) -> tuple[spaces.Box, spaces.Space]:
    """The joint observation (concatenated, float32) and joint action spaces of a team."""
    names = list(scenario.possible_agents) if hasattr(scenario, "possible_agents") else list(scenario.agents)
    get_obs = scenario.observation_space if callable(getattr(scenario, "observation_space", None)) else scenario.observation_spaces.__getitem__
    get_act = scenario.action_space if callable(getattr(scenario, "action_space", None)) else scenario.action_spaces.__getitem__
    acts = [get_act(a) for a in names]
    width = sum(obs_dim(get_obs(a)) for a in names)
    obs = spaces.Box(-np.inf, np.inf, (width,), np.float32)
    if all(isinstance(s, spaces.Discrete) for s in acts):
        sizes = [int(s.n) for s in acts]
        if not product:
            return obs, spaces.MultiDiscrete(sizes)
        total = int(np.prod(sizes))
        if total > MAX_JOINT_ACTIONS:
            raise UserError(f"joint action space of {scenario.id} has {total} actions (max {MAX_JOINT_ACTIONS}); use vdn or qmix")
        return obs, spaces.Discrete(total)
    if all(isinstance(s, spaces.Box) for s in acts) and not product:
        low = np.concatenate([s.low.ravel() for s in acts]).astype(np.float32)
        high = np.concatenate([s.high.ravel() for s in acts]).astype(np.float32)
        return obs, spaces.Box(low, high, dtype=np.float32)
    kinds = sorted({type(s).__name__ for s in acts})
    raise UserError(f"a joint-action learner needs all-Discrete{'' if product else ' or all-Box'} actions; {scenario.id} has {kinds}")


class JointCodec:
    """Converts between per-agent dicts and joint observations/actions."""

    def __init__(self, scenario: Scenario, product: bool) -> None:
        self.agents = list(scenario.possible_agents)
        self.obs_spaces = {a: scenario.observation_space(a) for a in self.agents}
        self.act_spaces = {a: scenario.action_space(a) for a in self.agents}
        self.product = product
        self.observation_space, self.action_space = joint_spaces(scenario, product)
        self.sizes = [int(self.act_spaces[a].n) for a in self.agents] if isinstance(self.act_spaces[self.agents[0]], spaces.Discrete) else []
        self.widths = [] if self.sizes else [int(np.prod(self.act_spaces[a].shape)) for a in self.agents]

    def obs(self, per_agent: dict[str, np.ndarray]) -> np.ndarray:
        """Joint observation rows (N, width)."""
        return np.concatenate([encode(per_agent[a], self.obs_spaces[a]) for a in self.agents], axis=1)

    def split(self, joint: np.ndarray) -> dict[str, np.ndarray]:
        """Per-agent actions from joint actions."""
        joint = np.asarray(joint)
        if self.sizes and self.product:
            parts = np.unravel_index(joint.astype(np.int64).reshape(-1), self.sizes)
            return {a: parts[k].astype(np.int64) for k, a in enumerate(self.agents)}
        if self.sizes:
            return {a: joint[:, k].astype(np.int64) for k, a in enumerate(self.agents)}
        cuts = np.cumsum([0] + self.widths)
        return {a: joint[:, cuts[k] : cuts[k + 1]].reshape(-1, *self.act_spaces[a].shape).astype(np.float32)
                for k, a in enumerate(self.agents)}


class JointVecEnv(ScenarioCopies, VecEnv):
    """A VectorScenario seen by SB3 as ``num_envs`` single-agent envs acting jointly."""

    def __init__(self, vec: Any, codec: JointCodec, aggregation: str) -> None:
        self.vec, self.codec, self.mean = vec, codec, aggregation == "mean"
        self.copies = vec.copies
        super().__init__(vec.num_envs, codec.observation_space, codec.action_space)
        self._actions: np.ndarray | None = None
        self._t0 = np.full(vec.num_envs, time.perf_counter())

    def _team(self, per_agent: dict[str, Any]) -> Any:
        total = sum(per_agent[a] for a in self.codec.agents)
        return total / len(self.codec.agents) if self.mean else total

    def reset(self) -> np.ndarray:
        """Reset every copy (seeds from ``seed()`` if set)."""
        seeds = self._seeds
        obs, _ = self.vec.reset(seed=None if all(s is None for s in seeds) else [int(s) for s in seeds])
        self._reset_seeds()
        self._reset_options()
        return self.codec.obs(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Store the joint actions."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step with the split joint actions; finished copies report SB3's terminal info."""
        assert self._actions is not None
        obs, rew, term, trunc, infos = self.vec.step(self.codec.split(self._actions))
        rewards = np.asarray(self._team(rew), np.float32)
        dones = np.zeros(self.num_envs, bool)
        out: list[dict[str, Any]] = []
        for i, info in enumerate(infos):
            entry: dict[str, Any] = {}
            if "episode" in info:
                ep = info["episode"]
                dones[i] = True
                entry["TimeLimit.truncated"] = bool(ep["truncated"])
                entry["terminal_observation"] = self.codec.obs({a: o[None] for a, o in info["final_observation"].items()})[0]
                entry["episode"] = {"r": float(self._team(ep["returns"])), "l": ep["length"], "t": time.perf_counter() - self._t0[i]}
                self._t0[i] = time.perf_counter()
            out.append(entry)
        return self.codec.obs(obs), rewards, dones, out

    def close(self) -> None:
        """Close the copies."""
        self.vec.close()


class JointAgent(SB3Agent):
    """An SB3 algorithm as a centralized controller of the whole team."""

    product: ClassVar[bool] = False

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a team whose joint action space the controller cannot take (joint_q on
        sisl/pursuit-v5: 390625 joint actions), as the constructor would."""
        joint_spaces(scenario, cls.product)

    def _check_spaces(self) -> None:
        self.codec = JointCodec(self.scenario, self.product)

    def _vecenv(self, vec: Any) -> Any:
        return JointVecEnv(vec, self.codec, self.scenario.spec.team_reward)

    def policy_distribution(self, agent: str, obs: Any) -> Any:
        """A centralized controller acts on the team's joint observation: no per-agent view."""
        raise UserError(f"{self.name} acts on the team's joint observation, not on {agent}'s alone: no per-agent policy to attack")

    def value(self, agent: str, obs: Any) -> Any:
        """A centralized controller's critic reads the joint observation: no per-agent view."""
        raise UserError(f"{self.name}'s critic reads the team's joint observation, not {agent}'s alone")

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The joint action for the joint observation, split per agent."""
        if self.model is None:
            raise NotTrained(self.name)
        joint = self.codec.obs(obs)
        if self.vecnorm is not None:
            joint = self.vecnorm.normalize_obs(joint)
        actions, _ = self.model.predict(joint, deterministic=deterministic)
        return self.codec.split(actions)


class JointPPO(JointAgent):
    """Joint-action PPO: one policy over the team's joint (MultiDiscrete or Box) action."""

    name = "joint_ppo"
    algorithm = PPO
    capabilities = Capabilities(multi_agent="any", learning=sb3_learning(PPO), competitive=False)


class JointQ(JointAgent):
    """Joint-action Q-learning (SB3 DQN) over the product of the agents' discrete actions."""

    name = "joint_q"
    algorithm = DQN
    product = True
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning=sb3_learning(DQN), competitive=False)


JOINT_AGENTS = (JointPPO, JointQ)
