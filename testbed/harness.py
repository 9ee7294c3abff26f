"""The evaluation harness: any agent on any scenario, batched, one record per episode.

Episode ``k`` of an evaluation is reset with seed ``seed + k`` whatever the
number of copies, so a deterministic agent gives the same episodes with 1 or 16
copies, and every episode can be replayed alone: exactly for NumPy policies (the
fast learners, the heuristics), to float rounding for torch networks, whose
products round differently with the batch size (~1e-6 relative in returns; more
where a task amplifies it, ~1e-4 on multiwalker). Copies run on the vectorized
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
from scenarios.errors import wrap_seed
from scenarios import make as make_scenario
from scenarios.goals import put_row, take_row
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
    backend: str = "auto",
    attack: Any | None = None,
) -> list[EpisodeRecord]:
    """Run ``episodes`` episodes of ``agent`` on ``scenario`` (default: the agent's own).

    Records are returned and, with ``store``, written in batches of
    ``flush_every`` episodes (each batch one transaction). ``run_id`` groups
    several calls (a grid); ``extra_params`` is merged into every record's params;
    ``backend`` picks the vectorized face (``auto``, ``batch``, ``gymnasium``);
    ``attack`` (an ``agents.adversarial.attacks.ObservationAttack``) perturbs the
    agent's observations, and its kind and eps are stored with every episode.

    >>> import agents, testbed
    >>> recs = testbed.evaluate(agents.make("random", "classic/CartPole-v1", seed=0), episodes=2, seed=0)
    >>> len(recs)
    2
    """
    if episodes < 1:
        raise UserError(f"episodes must be at least 1 (got {episodes})")
    sc = agent.scenario if scenario is None else (scenario if isinstance(scenario, Scenario) else make_scenario(scenario))
    check_compatible({"spaces": scenario_signature(agent.scenario)}, sc, f"for agent {agent.name}")
    params = dict(extra_params or {})
    if attack is not None:
        from agents.adversarial.attacks import AttackedAgent

        agent = AttackedAgent(agent, attack)
        params.update({"attack": attack.kind, "eps": attack.eps})
    n = min(episodes, num_envs or 8)
    vec = sc.vector(n, autoreset=False, backend=backend)
    counter = iter(range(episodes))
    try:
        return run_episodes(
            agent, vec, sc, next_episode=lambda _copy: next(counter, None), total=episodes, seed=seed,
            deterministic=deterministic, checkpoint=checkpoint, store=store, progress=progress,
            flush_every=flush_every, run_id=run_id, extra_params=lambda _copy: params,
        )
    finally:
        vec.close()


def run_episodes(
    agent: Any,
    vec: Any,
    sc: Scenario,
    next_episode: Callable[[int], int | None],
    total: int,
    seed: int,
    deterministic: bool = True,
    checkpoint: str | None = None,
    store: ResultsStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    flush_every: int = 32,
    run_id: str | None = None,
    extra_params: Callable[[int], dict[str, Any]] = lambda _copy: {},
) -> list[EpisodeRecord]:
    """The evaluation loop over a vectorized face without autoreset.

    ``next_episode(copy)`` gives the index of the next episode a free copy runs
    (reset with seed ``seed + index``) or None when that copy is finished; one
    batched ``act`` call per step serves every copy. Planners that declare
    ``needs_state`` also get each copy's simulator state. ``extra_params(copy)`` is
    merged into the params of that copy's records (a grid point, say).
    """
    described = sc.describe()
    versions = run_versions()
    run_id = run_id or uuid.uuid4().hex[:12]
    aggregation = sc.spec.team_reward
    n = vec.num_envs
    slot: list[int | None] = [next_episode(i) for i in range(n)]
    running = np.array([k is not None for k in slot])
    active = [i for i in range(n) if running[i]]
    obs, _ = vec.reset(seed=[wrap_seed(seed + slot[i]) for i in active], indices=active)  # type: ignore[operator]
    forget = getattr(agent, "reset_memory", None)  # recurrent policies drop their state at episode starts
    if forget:
        forget()
    started = np.full(n, time.perf_counter())
    records: list[EpisodeRecord] = []
    pending: list[EpisodeRecord] = []
    needs = getattr(getattr(agent, "capabilities", None), "needs_state", None)
    while running.any():
        if needs == "physics":
            actions = agent.act(obs, deterministic=deterministic, states=vec.physics_state())
        elif needs == "snapshot":
            actions = agent.act(obs, deterministic=deterministic, states=vec.snapshots())
        else:
            actions = agent.act(obs, deterministic=deterministic)
        obs, _, _, _, infos = vec.step(actions)
        for i in np.flatnonzero(running & vec.done):
            ep = infos[i]["episode"]
            returns = ep["returns"]
            team = float(np.sum(list(returns.values())))
            if aggregation == "mean":
                team /= len(returns)
            rec = EpisodeRecord(
                run_id=run_id, scenario_id=sc.id, scenario=described, params={**ep.get("params", {}), **extra_params(i)},
                agent=agent.name, checkpoint=checkpoint, seed=wrap_seed(seed + slot[i]), episode=slot[i],  # type: ignore[operator]
                returns=returns, team_return=team, aggregation=aggregation, length=ep["length"],
                terminated=ep["terminated"], truncated=ep["truncated"], cost=ep.get("cost"), success=ep.get("success"),
                unstable=ep.get("unstable"),
                wall_time_s=time.perf_counter() - started[i], deterministic=deterministic,
                versions=versions, created_at=dt.datetime.now(dt.timezone.utc).isoformat(),
            )
            records.append(rec)
            pending.append(rec)
            if progress:
                progress(len(records), total)
            k = next_episode(int(i))
            if k is not None:
                slot[i] = k
                new_obs, _ = vec.reset(seed=[wrap_seed(seed + k)], indices=[i])
                if forget:
                    forget([int(i)])
                for a in obs:
                    put_row(obs[a], int(i), take_row(new_obs[a], int(i)))
                started[i] = time.perf_counter()
            else:
                running[i] = False
        if store is not None and len(pending) >= flush_every:
            store.add(pending)
            pending = []
    if store is not None and pending:
        store.add(pending)
    records.sort(key=lambda r: r.episode)
    return records
