"""The scenario checker: Gymnasium's and PettingZoo's API tests, the vectorized
face's autoreset contract, and a determinism check, run over any scenario."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.goals import take_row
from scenarios.registry import resolve_spec
from scenarios.scenario import Scenario
from scenarios.spec import ScenarioSpec


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Gymnasium colours its warnings


@dataclass
class CheckResult:
    """One check's outcome; ``passed`` is None when the check does not apply."""

    name: str
    passed: bool | None
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    """The distinct warning messages raised while the check ran (the count in ``detail``)."""


def _run(name: str, fn: Callable[[], str | None]) -> CheckResult:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            note = fn()
        except Exception as exc:  # a failed check reports, it does not crash the table
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return CheckResult(name, False, f"{type(exc).__name__}: {msg}")
    detail = note or "ok"
    if caught:
        detail += f" ({len(caught)} warning{'s' if len(caught) > 1 else ''})"
    messages = list(dict.fromkeys(f"{w.category.__name__}: {_ANSI.sub('', str(w.message)).strip().splitlines()[0]}"
                                  for w in caught if str(w.message).strip()))
    return CheckResult(name, True, detail, messages)


def _gymnasium(spec: ScenarioSpec) -> str:
    from gymnasium.utils.env_checker import check_env

    sc = Scenario(spec)
    check_env(sc.as_gymnasium(), skip_render_check=True, skip_close_check=True)
    return "check_env passed"


def _pettingzoo(spec: ScenarioSpec, cycles: int) -> str:
    from pettingzoo.test import parallel_api_test

    with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on success
        parallel_api_test(Scenario(spec).as_pettingzoo(), num_cycles=cycles)
    return f"parallel_api_test passed ({cycles} cycles)"


def _sample(vec_spaces: dict, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for agent, space in vec_spaces.items():
        space.seed(int(rng.integers(2**31)))
        out[agent] = np.stack([np.asarray(space.sample()) for _ in range(n)])
    return out


def _autoreset(spec: ScenarioSpec, cycles: int) -> str:
    limit = min(Scenario(spec).time_limit or cycles, cycles)
    vec = Scenario(spec.model_copy(update={"time_limit": limit})).vector(2, seed=0)
    rng = np.random.default_rng(0)
    obs, _ = vec.reset()
    sums = {a: np.zeros(2) for a in vec.agents}
    finished = 0
    for _ in range(limit + 1):
        obs, rew, term, trunc, infos = vec.step(_sample(vec.action_spaces, 2, rng))
        for a in vec.agents:
            sums[a] += rew[a]
        for i, info in enumerate(infos):
            if "episode" not in info:
                continue
            finished += 1
            ep = info["episode"]
            assert "final_observation" in info, "finished copy has no final_observation"
            assert ep["length"] <= limit, f"episode ran {ep['length']} steps past the time limit {limit}"
            for a in vec.agents:
                assert np.isclose(ep["returns"][a], sums[a][i]), "episode return differs from the sum of rewards"
                assert vec.observation_spaces[a].contains(take_row(obs[a], i)), "reset observation outside the space"
                sums[a][i] = 0.0
            assert ep["terminated"] != ep["truncated"], "an episode ends either terminated or truncated"
    assert finished >= 2, f"only {finished} of 2 copies finished within the time limit {limit}"
    return f"{finished} episodes autoreset"


def _trajectory(spec: ScenarioSpec, steps: int, seed: int) -> list[Any]:
    sc = Scenario(spec, seed=seed)
    for a in sc.possible_agents:
        sc.action_space(a).seed(seed)
    obs, _ = sc.reset()
    out: list[Any] = [obs]
    for _ in range(steps):
        if not sc.agents:
            obs, _ = sc.reset()
            out.append(obs)
            continue
        step = sc.step({a: sc.action_space(a).sample() for a in sc.agents})
        out.append(step[:4])
    return out


def _equal(x: Any, y: Any) -> bool:
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(_equal(a, b) for a, b in zip(x, y))
    return bool(np.array_equal(np.asarray(x), np.asarray(y)))


def _determinism(spec: ScenarioSpec, cycles: int) -> str:
    first = _trajectory(spec, cycles, seed=7)
    second = _trajectory(spec, cycles, seed=7)
    for t, (a, b) in enumerate(zip(first, second)):
        assert _equal(a, b), f"trajectories differ at step {t} with the same seed and actions"
    return f"{cycles} steps identical"


def check_scenario(id_or_spec: str | Path | dict | ScenarioSpec, cycles: int = 100) -> list[CheckResult]:
    """Run every check on a scenario and return one result per check."""
    spec = resolve_spec(id_or_spec)
    single = Scenario(spec).num_agents == 1
    results = [
        _run("gymnasium check_env", lambda: _gymnasium(spec)) if single
        else CheckResult("gymnasium check_env", None, "n/a: multi-agent"),
        _run("pettingzoo parallel_api_test", lambda: _pettingzoo(spec, cycles)),
        _run("vector autoreset", lambda: _autoreset(spec, cycles)),
        _run("determinism", lambda: _determinism(spec, cycles)),
    ]
    return results
