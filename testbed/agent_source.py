"""What ``evaluate`` and ``demos record`` act with: a checkpoint folder, or the name of an agent
that needs no training (``random``, a planner, a heuristic) built with ``--set`` overrides.

``check_source`` decides from the agent index alone, so a bad name or value is refused
before torch or the scenario load; ``agent_or_checkpoint`` then builds it. ``train --resume``
goes on from a checkpoint's training state through ``resumed_checkpoint``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios import UserError


def check_source(checkpoint: str, sets: list[str]) -> dict[str, Any]:
    """Check that ``checkpoint`` is a folder or an agent that needs no training; return the checked overrides."""
    from agents import index
    from agents.hyperparams import parse_assignments

    if Path(checkpoint).exists():
        if sets:
            raise UserError("--set applies to agents built by name, not to a checkpoint")
        return {}
    untrained = [n for n, info in index.read().items() if not info["capabilities"]["needs_training"]]
    if checkpoint not in untrained:
        raise UserError(f"checkpoint not found: {checkpoint} (give a checkpoint folder or one of: {', '.join(untrained)})")
    return index.check_overrides(checkpoint, parse_assignments(sets))


def agent_or_checkpoint(checkpoint: str, scenario: Any, seed: int, overrides: dict[str, Any]) -> tuple[Any, str | None]:
    """The agent to act with and its checkpoint label (None for an agent built by name, with the
    ``overrides`` that ``check_source`` returned)."""
    import agents

    if Path(checkpoint).exists():
        return agents.load(checkpoint, scenario), str(Path(checkpoint))
    return agents.make(checkpoint, scenario, seed=seed, **overrides), None


def resumed_checkpoint(folder: Path, agent: str, scenario: str, hparams: dict[str, Any]) -> Any:
    """The agent of checkpoint ``folder`` with its training state, refused in one line where it is not
    the agent asked for, has no training state, or would take new hyperparameters."""
    import agents
    import scenarios
    from agents.checkpoint import read_meta

    meta = read_meta(folder)
    trained_on = meta["scenario"].get("id")
    if scenarios.resolve_spec(scenario).id != trained_on:
        raise UserError(f"--resume {folder} was trained on {trained_on}, not {scenario} (its environments are {trained_on}'s)")
    if meta["agent"] != agent:
        raise UserError(f"--resume {folder} holds a {meta['agent']} checkpoint, not {agent}")
    if hparams:
        raise UserError(f"--resume goes on with the checkpoint's own hyperparameters; drop --set/--config ({', '.join(sorted(hparams))})")
    return agents.load(folder, scenario, resume=True)
