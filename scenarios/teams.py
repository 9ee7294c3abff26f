"""Teams of a multi-agent scenario, read from PettingZoo's agent names.

PettingZoo names agents ``<team>_<index>`` (``adversary_0``, ``agent_1``,
``walker_2``); a team is the name without the trailing index. Competitive
scenarios report one return per team; learners share networks within a team.
"""

from __future__ import annotations


def team_of(agent: str) -> str:
    """The team an agent belongs to: its name without the trailing ``_index``.

    >>> team_of("adversary_1")
    'adversary'
    """
    head, sep, tail = agent.rpartition("_")
    return head if sep and tail.isdigit() else agent


def teams(agents: list[str]) -> dict[str, list[str]]:
    """Agents by team, in order of first appearance."""
    out: dict[str, list[str]] = {}
    for a in agents:
        out.setdefault(team_of(a), []).append(a)
    return out


def team_returns(returns: dict[str, float]) -> dict[str, float]:
    """Per-team returns (sum over each team's agents) from per-agent returns."""
    return {team: float(sum(returns[a] for a in members)) for team, members in teams(list(returns)).items()}
