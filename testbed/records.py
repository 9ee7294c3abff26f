"""EpisodeRecord: one evaluated episode, everything needed to trust and redo it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class EpisodeRecord(BaseModel):
    """One episode of one agent on one scenario, as stored in the results database."""

    run_id: str = Field(description="Id shared by all episodes of one evaluate() call.")
    scenario_id: str = Field(description="Registered or spec-file scenario id.")
    scenario: dict[str, Any] = Field(description="The resolved scenario definition (spec, time limit, spaces).")
    params: dict[str, Any] = Field(default_factory=dict, description="Values sampled by layers for this episode.")
    agent: str = Field(description="Agent name, e.g. 'ppo' or 'random'.")
    checkpoint: str | None = Field(default=None, description="Checkpoint folder the agent was loaded from.")
    seed: int = Field(description="Reset seed of this episode (evaluation seed + episode index).")
    episode: int = Field(description="Episode index within the run.")
    returns: dict[str, float] = Field(description="Undiscounted return per agent.")
    team_return: float = Field(description="Per-agent returns aggregated as 'aggregation' says.")
    aggregation: Literal["sum", "mean"] = Field(description="How team_return aggregates per-agent returns.")
    length: int = Field(description="Steps in the episode.")
    terminated: bool = Field(description="Ended by a terminal state (not a time limit).")
    truncated: bool = Field(description="Ended by the time limit.")
    cost: float | None = Field(default=None, description="Summed safety cost (None: the scenario has no cost layer).")
    success: bool | None = Field(default=None, description="The source's success flag (info['is_success'], or 'success') at the episode's end; None where it reports none.")
    unstable: bool | None = Field(default=None, description="MuJoCo's physics went unstable during the episode and reset its state (scenarios.instability): the return is not a measurement; None for non-MuJoCo sources.")
    wall_time_s: float = Field(description="Wall time from this episode's reset to its end.")
    deterministic: bool = Field(description="Whether the agent acted deterministically.")
    versions: dict[str, str] = Field(default_factory=dict, description="Library versions and thread counts.")
    created_at: str = Field(description="UTC time the record was made, ISO 8601.")
    job_id: str | None = Field(default=None, description="Experiment job that produced the episode ('testbed run'), if any.")
    label: str | None = Field(default=None, description="The experiment's agent label (e.g. 'ppo-dr'); None outside experiments.")
    trained_on: str | None = Field(default=None, description="Id of the scenario the policy was trained on, if known.")
    train_seed: int | None = Field(default=None, description="Training seed of the policy, if known.")


GridPoint = tuple[tuple[str, float], ...]
"""A grid or search record's point: its sorted (axis, value) pairs; () is the nominal."""


def grid_point(r: EpisodeRecord) -> GridPoint:
    """The grid point ``r`` was evaluated at (``params["grid"]``)."""
    return tuple(sorted((k, float(v)) for k, v in r.params["grid"].items()))


def split_unstable(records: list[EpisodeRecord]) -> tuple[list[EpisodeRecord], list[EpisodeRecord]]:
    """The records kept, and those left out: every record of a grid (or search) point where any episode
    of the same run went physically unstable (``unstable``, ``scenarios.instability``). That point's
    mean is not a measurement, so each reader of grids (robustness rows, the study tables, the report's
    figures) leaves the whole point out, as the worst-case search does. Records off grids are kept."""
    bad = {(r.run_id, grid_point(r)) for r in records if r.unstable and "grid" in r.params}
    if not bad:
        return list(records), []
    kept: list[EpisodeRecord] = []
    left_out: list[EpisodeRecord] = []
    for r in records:
        (left_out if "grid" in r.params and (r.run_id, grid_point(r)) in bad else kept).append(r)
    return kept, left_out
