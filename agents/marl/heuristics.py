"""Scripted policies for the cooperative MPE tasks: the upper anchor of the normalized
score ``(R - R_random) / (R_heuristic - R_random)`` used in our multi-agent results.

- ``spread_heuristic`` (simple_spread): every agent rebuilds the absolute
  positions of all agents and landmarks from its own observation, solves the
  same minimum-total-distance assignment of agents to landmarks (SciPy's
  ``linear_sum_assignment``, polynomial in N) and drives to its landmark.
- ``speaker_listener_heuristic``: the speaker says the index of the goal
  colour; the listener drives to the landmark the message names.
- ``reference_heuristic`` (simple_reference): each agent says which landmark
  the other must reach (it observes that goal's colour) and drives to the
  landmark the other names.

Driving is a damped bang-bang controller over MPE's five discrete moves
(no-op, -x, +x, -y, +y): push along the axis of the larger error between the
target and the position the current velocity would coast to.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from agents.base import Capabilities, NoTraining
from scenarios import Scenario, UserError
from agents.observations import accepts_unbatched

COAST = 0.25  # seconds of coasting anticipated by the controller
DEADBAND = 0.02


def drive(rel: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """Discrete MPE move (0..4) towards relative targets ``rel`` (N, 2) given velocities (N, 2)."""
    err = rel - COAST * vel
    axis = np.abs(err).argmax(1)
    value = err[np.arange(len(err)), axis]
    move = np.where(axis == 0, np.where(value < 0, 1, 2), np.where(value < 0, 3, 4))
    return np.where(np.abs(err).max(1) < DEADBAND, 0, move).astype(np.int64)


class Scripted(NoTraining):
    """Shared constructor of the scripted policies: checks the scenario's source."""

    name: ClassVar[str]
    source: ClassVar[str]
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", needs_training=False, learning="none")

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a scenario other than the one the policy is scripted for."""
        if cls.source not in scenario.spec.source or scenario.spec.kwargs.get("continuous_actions"):
            raise UserError(f"{cls.name} is scripted for {cls.source} with discrete actions; {scenario.id} is not")

    def __init__(self, scenario: Scenario, seed: int | None = None, **hparams: Any) -> None:
        self.check_scenario(scenario, hparams)
        if hparams:
            raise UserError(f"{self.name} takes no hyperparameters (got {', '.join(sorted(hparams))})")
        self.scenario, self.seed, self.hparams = scenario, seed, {}
        self.agents = list(scenario.possible_agents)


class SpreadHeuristic(Scripted):
    """simple_spread: shared optimal assignment of agents to landmarks, then drive there."""

    name = "spread_heuristic"
    source = "simple_spread"

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Each agent computes the same assignment from its own observation."""
        n_agents = len(self.agents)
        out = {}
        for i, a in enumerate(self.agents):
            o = np.asarray(obs[a], np.float64)
            vel, pos = o[:, 0:2], o[:, 2:4]
            marks = pos[:, None] + o[:, 4 : 4 + 2 * n_agents].reshape(len(o), n_agents, 2)
            others = pos[:, None] + o[:, 4 + 2 * n_agents : 4 + 4 * n_agents - 2].reshape(len(o), n_agents - 1, 2)
            everyone = np.concatenate([others[:, :i], pos[:, None], others[:, i:]], axis=1)
            dist = np.linalg.norm(everyone[:, :, None] - marks[:, None], axis=3)  # (N, agent, landmark)
            mine = np.array([linear_sum_assignment(d)[1][i] for d in dist], dtype=np.int64)
            out[a] = drive(marks[np.arange(len(o)), mine] - pos, vel)
        return out


class SpeakerListenerHeuristic(Scripted):
    """simple_speaker_listener: say the goal's index; go where told."""

    name = "speaker_listener_heuristic"
    source = "simple_speaker_listener"

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Speaker: argmax of the goal colour. Listener: drive to the named landmark."""
        goal = np.asarray(obs["speaker_0"]).argmax(1)
        o = np.asarray(obs["listener_0"], np.float64)
        heard = o[:, 8:11]
        marks = o[:, 2:8].reshape(-1, 3, 2)
        target = marks[np.arange(len(o)), heard.argmax(1)]
        move = np.where(heard.max(1) > 0, drive(target, o[:, 0:2]), 0)
        return {"speaker_0": goal.astype(np.int64), "listener_0": move.astype(np.int64)}


class ReferenceHeuristic(Scripted):
    """simple_reference: name the other agent's goal; go where the other names."""

    name = "reference_heuristic"
    source = "simple_reference"

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Action = move + 5 * message (mpe2's encoding of Discrete(50))."""
        out = {}
        for a in self.agents:
            o = np.asarray(obs[a], np.float64)
            say = o[:, 8:11].argmax(1)  # the colour of the other's goal landmark
            heard = o[:, 11:21]
            marks = o[:, 2:8].reshape(-1, 3, 2)
            target = marks[np.arange(len(o)), heard[:, :3].argmax(1)]
            move = np.where(heard.max(1) > 0, drive(target, o[:, 0:2]), 0)
            out[a] = (move + 5 * say).astype(np.int64)
        return out


HEURISTICS = (SpreadHeuristic, SpeakerListenerHeuristic, ReferenceHeuristic)
