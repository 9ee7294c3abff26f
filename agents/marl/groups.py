"""Agent groups and parameter sharing for multi-agent learners.

A group is a set of agents that share one set of networks. ``sharing``:

- ``full``: every agent in one group (needs identical spaces);
- ``group`` (default): agents of the same team (name prefix before the last
  ``_``, as PettingZoo names them: ``adversary_0``, ``agent_1``) and identical
  spaces share networks; heterogeneous agents (speaker and listener) and
  competing teams get their own;
- ``none``: one group per agent.

With more than one agent in a group, a one-hot agent index is appended to the
observation (``agent_id: true``) so shared networks can still specialise.
Observations are flattened to float32; Discrete observations become one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces

from scenarios import Scenario, UserError
from scenarios.teams import team_of, teams  # noqa: F401  (re-exported for the learners)

SHARING = ("full", "group", "none")


def obs_dim(space: spaces.Space) -> int:
    """Width of a flattened (one-hot for Discrete) observation."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    raise UserError(f"multi-agent learners need Box or Discrete observations, not {space}")


def encode(obs: np.ndarray, space: spaces.Space) -> np.ndarray:
    """Observations of shape (N, ...) as float32 rows (N, obs_dim)."""
    if isinstance(space, spaces.Discrete):
        return np.eye(int(space.n), dtype=np.float32)[np.asarray(obs, np.int64) - int(space.start)]
    return np.asarray(obs, np.float32).reshape(len(obs), -1)


@dataclass
class Group:
    """Agents sharing one set of networks, with their common spaces."""

    name: str
    agents: list[str]
    obs_space: spaces.Space
    act_space: spaces.Space
    agent_id: bool = True
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {a: k for k, a in enumerate(self.agents)}
        self.use_id = self.agent_id and len(self.agents) > 1

    @property
    def in_dim(self) -> int:
        """Input width of the group's actor: observation plus the optional agent id."""
        return obs_dim(self.obs_space) + (len(self.agents) if self.use_id else 0)

    @property
    def discrete(self) -> bool:
        """True for Discrete actions, False for Box."""
        return isinstance(self.act_space, spaces.Discrete)

    @property
    def act_dim(self) -> int:
        """Number of discrete actions or Box action width."""
        return int(self.act_space.n) if self.discrete else int(np.prod(self.act_space.shape))

    def inputs(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Actor inputs (N, k, in_dim) for the group's k agents, agent id appended."""
        rows = np.stack([encode(obs[a], self.obs_space) for a in self.agents], axis=1)
        if not self.use_id:
            return rows
        n, k = rows.shape[:2]
        ids = np.broadcast_to(np.eye(k, dtype=np.float32), (n, k, k))
        return np.concatenate([rows, ids], axis=2)


def make_groups(scenario: Scenario, sharing: str = "group", agent_id: bool = True) -> list[Group]:
    """Partition a scenario's agents into parameter-sharing groups (see module doc)."""
    if sharing not in SHARING:
        raise UserError(f"unknown sharing '{sharing}' (valid: {', '.join(SHARING)})")
    names = list(scenario.possible_agents)
    obs = {a: scenario.observation_space(a) for a in names}
    act = {a: scenario.action_space(a) for a in names}
    for a in names:
        obs_dim(obs[a])
        if not isinstance(act[a], (spaces.Discrete, spaces.Box)):
            raise UserError(f"multi-agent learners need Discrete or Box actions; {a} has {act[a]}")
    if sharing == "none":
        parts = [[a] for a in names]
    elif sharing == "full":
        first = names[0]
        for a in names[1:]:
            if obs[a] != obs[first] or act[a] != act[first]:
                raise UserError(
                    f"sharing=full needs identical spaces, but {first} and {a} of {scenario.id} differ "
                    "(valid: sharing=group or sharing=none)"
                )
        parts = [names]
    else:
        keyed: dict[tuple, list[str]] = {}
        for a in names:
            keyed.setdefault((team_of(a), str(obs[a]), str(act[a])), []).append(a)
        parts = list(keyed.values())
    return [
        Group(name=team_of(p[0]) if len(p) > 1 or sharing != "none" else p[0], agents=p,
              obs_space=obs[p[0]], act_space=act[p[0]], agent_id=agent_id)
        for p in parts
    ]


def global_state(obs: dict[str, np.ndarray], scenario_agents: list[str], obs_spaces: dict[str, spaces.Space]) -> np.ndarray:
    """The centralized state: every agent's flattened observation concatenated, (N, D)."""
    return np.concatenate([encode(obs[a], obs_spaces[a]) for a in scenario_agents], axis=1)
