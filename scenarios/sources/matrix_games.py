"""Repeated two-player matrix games as a parallel env (no library ships these on PettingZoo).

Each round both agents pick an action at once and receive the payoffs of the
joint action. Each agent observes the previous joint action as one-hot blocks
(own first, then the other's); the first round observes zeros. Payoffs:

- ``prisoners_dilemma``: C/D, (CC 3,3) (CD 0,5) (DC 5,0) (DD 1,1).
- ``stag_hunt``: Stag/Hare, (SS 4,4) (SH 0,3) (HS 3,0) (HH 2,2).
- ``climbing``: the 3x3 cooperative climbing game of Claus & Boutilier (1998),
  both agents get [[11,-30,0],[-30,7,6],[0,0,5]] (optimum 11 at (0,0)).
- ``matching_pennies``: H/T, agent_0 wins +1 on a match, agent_1 on a mismatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

GAMES: dict[str, np.ndarray] = {
    "prisoners_dilemma": np.array([[[3, 3], [0, 5]], [[5, 0], [1, 1]]], dtype=float),
    "stag_hunt": np.array([[[4, 4], [0, 3]], [[3, 0], [2, 2]]], dtype=float),
    "climbing": np.stack([np.array([[11, -30, 0], [-30, 7, 6], [0, 0, 5]], dtype=float)] * 2, axis=-1),
    "matching_pennies": np.array([[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]], dtype=float),
}


class MatrixGame:
    """A repeated matrix game; ``payoff[a0, a1]`` gives (reward_0, reward_1)."""

    metadata = {"render_modes": [], "is_parallelizable": True, "name": "matrix_game"}

    def __init__(self, game: str, time_limit: int | None = None) -> None:
        self.game = game
        self.payoff = GAMES[game]
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self.n_actions = self.payoff.shape[:2]
        self.default_time_limit = time_limit or 10
        size = int(sum(self.n_actions))
        self._obs_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._act_spaces = {a: spaces.Discrete(int(n)) for a, n in zip(self.possible_agents, self.n_actions)}
        self._round = 0

    def observation_space(self, agent: str) -> spaces.Box:
        """One-hot of the previous joint action (own block first)."""
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        """The agent's row or column choices."""
        return self._act_spaces[agent]

    def _obs(self, last: tuple[int, int] | None) -> dict[str, np.ndarray]:
        n0, n1 = self.n_actions
        out = {}
        for i, agent in enumerate(self.possible_agents):
            o = np.zeros(n0 + n1, np.float32)
            if last is not None:
                own, other = (last[0], last[1]) if i == 0 else (last[1], last[0])
                own_n = n0 if i == 0 else n1
                o[own] = 1.0
                o[own_n + other] = 1.0
            out[agent] = o
        return out

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start a new repeated game."""
        self.agents = list(self.possible_agents)
        self._round = 0
        return self._obs(None), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Play one round."""
        a0, a1 = int(actions["agent_0"]), int(actions["agent_1"])
        r = self.payoff[a0, a1]
        self._round += 1
        done = self._round >= self.default_time_limit
        rew = {"agent_0": float(r[0]), "agent_1": float(r[1])}
        term = {a: False for a in self.agents}
        trunc = {a: done for a in self.agents}
        infos = {a: {"joint_action": (a0, a1)} for a in self.agents}
        obs = self._obs((a0, a1))
        if done:
            self.agents = []
        return obs, rew, term, trunc, infos

    def close(self) -> None:
        """Nothing to release."""
