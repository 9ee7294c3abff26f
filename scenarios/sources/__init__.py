"""Sources: the environments a scenario wraps, each adapted to one parallel API.

A source is anything with PettingZoo's ParallelEnv surface (``possible_agents``,
``agents``, ``observation_space(agent)``, ``action_space(agent)``,
``reset(seed, options)``, ``step(actions)``, ``close()``) plus
``default_time_limit``. Source strings are ``kind:name``:

- ``gymnasium:HalfCheetah-v5`` - any registered Gymnasium env, as one agent ``agent_0``;
- ``pettingzoo:mpe2.simple_spread_v3`` - a module with ``parallel_env(**kwargs)``;
- ``mamujoco:HalfCheetah/2x3`` - Gymnasium-Robotics multi-agent MuJoCo;
- ``matrix:prisoners_dilemma`` - our repeated matrix games.
"""

from __future__ import annotations

from typing import Any

from scenarios.errors import UserError, suggest

KINDS = ("gymnasium", "pettingzoo", "mamujoco", "matrix")


def build_source(source: str, kwargs: dict[str, Any], time_limit: int | None) -> Any:
    """Construct the source env named by ``source`` with its kwargs and time limit. Where kwargs are
    given, each is first checked against the kind of value the constructor declares
    (``scenarios.sources.kwarg_types``), and the env is reset and stepped once (``probe``), so that
    values the library only trips over once the world moves are refused here, in one line, and not
    mid-run."""
    if kwargs:
        from scenarios.sources.kwarg_types import check_kwarg_types, constructor

        check_kwarg_types(source, constructor(source), kwargs)
    env = _construct(source, kwargs, time_limit)
    if kwargs:
        probe(source, env, kwargs)
    return env


def probe(source: str, env: Any, kwargs: dict[str, Any]) -> None:
    """Reset ``env`` and step it once with every agent's action at the middle of its space (a copy of
    the space samples where there is no middle, leaving the env's own spaces' generators alone);
    an error there becomes ``rejected_kwargs``. The env is reset again before any episode."""
    import copy

    import numpy as np
    from gymnasium import spaces

    def middle(space: Any) -> Any:
        if isinstance(space, spaces.Box):
            low, high = np.nan_to_num(space.low, posinf=0, neginf=0), np.nan_to_num(space.high, posinf=0, neginf=0)
            return ((low + high) / 2).astype(space.dtype)
        if isinstance(space, spaces.Discrete):
            return np.int64(space.start)
        return copy.deepcopy(space).sample()

    try:
        env.reset()
        env.step({a: middle(env.action_space(a)) for a in env.agents})
    except Exception as exc:  # the library's own failure on these values
        if isinstance(exc, UserError):
            raise
        raise rejected_kwargs(source, kwargs, exc) from None


def _construct(source: str, kwargs: dict[str, Any], time_limit: int | None) -> Any:
    """The source env itself (``build_source`` without the probe)."""
    kind, _, name = source.partition(":")
    if not name or kind not in KINDS:
        raise UserError(f"unknown source '{source}': expected 'kind:name' with kind one of {', '.join(KINDS)}")
    if kind == "gymnasium":
        from scenarios.sources.gymnasium_source import GymnasiumSource

        return GymnasiumSource(name, kwargs, time_limit)
    if kind == "pettingzoo":
        from scenarios.sources.pettingzoo_source import make_pettingzoo

        return make_pettingzoo(name, kwargs, time_limit)
    if kind == "mamujoco":
        from scenarios.sources.pettingzoo_source import make_mamujoco

        return make_mamujoco(name, kwargs, time_limit)
    from scenarios.sources.matrix_games import GAMES, MatrixGame

    if name not in GAMES:
        raise UserError(f"unknown matrix game '{name}'{suggest(name, GAMES)} (valid: {', '.join(GAMES)})")
    try:
        return MatrixGame(name, time_limit=time_limit, **kwargs)
    except TypeError as exc:  # a kwarg the game does not take
        raise rejected_kwargs(source, kwargs, exc) from None


def rejected_kwargs(source: str, kwargs: dict[str, Any], exc: Exception) -> UserError:
    """Turn a constructor's error (a TypeError about keyword arguments, or the library's own check of
    their values: an AssertionError, ValueError, IndexError...) into one UserError line."""
    text = (str(exc).splitlines() or [""])[0] or type(exc).__name__
    return UserError(f"source '{source}' rejected kwargs {kwargs}: {text}")
