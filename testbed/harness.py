"""The evaluation harness: any agent on any scenario, batched, one record per episode.

Episode ``k`` of an evaluation is reset with seed ``seed + k`` whatever the
number of copies, so a deterministic agent gives the same episodes with 1 or 16
copies, and every episode can be replayed alone. Copies run on the vectorized
face without autoreset; a finished copy takes the next unstarted episode, and
inference is one batched ``act`` call per step over all copies.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from agents.checkpoint import check_compatible, library_versions, scenario_signature
from scenarios import Scenario, ScenarioSpec, UserError
from scenarios import make as make_scenario
from testbed.records import EpisodeRecord
from testbed.store import ResultsStore


def run_versions() -> dict[str, str]:
    """Library versions plus the thread settings that affect speed and numerics."""
    return {
        **library_versions(),
        "torch_threads": str(torch.get_num_threads()),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", ""),
    }


def evaluate(
    agent: Any,
    scenario: Scenario | str | dict | ScenarioSpec | None = None,
    episodes: int = 10,
    seed: int = 0,
    num_envs: int | None = None,
    deterministic: bool = True,
    checkpoint: str | None = None,
    store: ResultsStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    flush_every: int = 32,
    run_id: str | None = None,
    extra_params: dict[str, Any] | None = None,
) -> list[EpisodeRecord]:
    """Run ``episodes`` episodes of ``agent`` on ``scenario`` (default: the agent's own).

    Records are returned and, with ``store``, written in batches of
    ``flush_every`` episodes (each batch one transaction). ``run_id`` groups
    several calls (a grid); ``extra_params`` is merged into every record's params.

    >>> import agents, testbed
    >>> recs = testbed.evaluate(agents.make("random", "classic/CartPole-v1", seed=0), episodes=2, seed=0)
    >>> len(recs)
    2
    """
    if episodes < 1:
        raise UserError(f"episodes must be at least 1 (got {episodes})")
    sc = agent.scenario if scenario is None else (scenario if isinstance(scenario, Scenario) else make_scenario(scenario))
    check_compatible({"spaces": scenario_signature(agent.scenario)}, sc, f"for agent {agent.name}")
    n = min(episodes, num_envs or 8)
    vec = sc.vector(n, autoreset=False)
    described = sc.describe()
    versions = run_versions()
    run_id = run_id or uuid.uuid4().hex[:12]
    aggregation = sc.spec.team_reward

    slot = list(range(n))  # episode index each copy is running
    next_episode = n
    obs, _ = vec.reset(seed=[seed + k for k in slot])
    started = np.full(n, time.perf_counter())
    running = np.ones(n, bool)
    records: list[EpisodeRecord] = []
    pending: list[EpisodeRecord] = []
    try:
        while running.any():
            actions = agent.act(obs, deterministic=deterministic)
            obs, _, _, _, infos = vec.step(actions)
            for i in np.flatnonzero(running & vec.done):
                ep = infos[i]["episode"]
                returns = ep["returns"]
                team = float(np.sum(list(returns.values())))
                if aggregation == "mean":
                    team /= len(returns)
                rec = EpisodeRecord(
                    run_id=run_id, scenario_id=sc.id, scenario=described, params={**ep.get("params", {}), **(extra_params or {})},
                    agent=agent.name, checkpoint=checkpoint, seed=seed + slot[i], episode=slot[i],
                    returns=returns, team_return=team, aggregation=aggregation, length=ep["length"],
                    terminated=ep["terminated"], truncated=ep["truncated"], cost=ep.get("cost"),
                    wall_time_s=time.perf_counter() - started[i], deterministic=deterministic,
                    versions=versions, created_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                )
                records.append(rec)
                pending.append(rec)
                if progress:
                    progress(len(records), episodes)
                if next_episode < episodes:
                    slot[i] = next_episode
                    new_obs, _ = vec.reset(seed=[seed + next_episode], indices=[i])
                    for a in obs:
                        obs[a][i] = new_obs[a][i]
                    started[i] = time.perf_counter()
                    next_episode += 1
                else:
                    running[i] = False
            if store is not None and len(pending) >= flush_every:
                store.add(pending)
                pending = []
        if store is not None and pending:
            store.add(pending)
    finally:
        vec.close()
    records.sort(key=lambda r: r.episode)
    return records
