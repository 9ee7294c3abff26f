"""PettingZoo parallel envs (mpe2, SISL) and Gymnasium-Robotics MaMuJoCo as sources.

These already speak the parallel API; we only build them with the scenario's
time limit (``max_cycles`` for PettingZoo, ``max_episode_steps`` for MaMuJoCo)
and record that default.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from typing import Any

from scenarios.errors import UserError


def make_pettingzoo(module: str, kwargs: dict[str, Any], time_limit: int | None) -> Any:
    """Build ``module.parallel_env(**kwargs)`` for episodes of ``max_cycles`` steps (the kwarg, else
    ``time_limit``), recorded as ``default_time_limit``. The env itself is built with one step more: the
    scenario truncates at that length, and the env's own end never comes first. SISL's multiwalker
    marks its ``max_cycles`` end as a termination (pursuit and mpe2 as a truncation), which let learners
    treat every time-limit end as terminal and not bootstrap there."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"cannot import PettingZoo module '{module}': {exc}") from None
    if not hasattr(mod, "parallel_env"):
        raise UserError(f"module '{module}' has no parallel_env()")
    kw = dict(kwargs)
    if time_limit is not None:
        kw.setdefault("max_cycles", time_limit)
    length = kw.get("max_cycles")
    _check_length(f"pettingzoo:{module}", "max_cycles", length)
    if length is not None:
        kw["max_cycles"] = length + 1
    try:
        env = mod.parallel_env(**kw)
    except Exception as exc:  # the library's own checks of the values too
        if isinstance(exc, UserError):
            raise
        from scenarios.sources import rejected_kwargs

        raise rejected_kwargs(f"pettingzoo:{module}", kwargs, exc) from None
    env.default_time_limit = length
    return env


def make_mamujoco(name: str, kwargs: dict[str, Any], time_limit: int | None) -> Any:
    """Build MaMuJoCo from ``'Scenario/agent_conf'``, e.g. ``'HalfCheetah/2x3'``."""
    with contextlib.redirect_stderr(io.StringIO()):  # an import-time notice about Adroit envs we do not use
        from gymnasium_robotics import mamujoco_v1

    scenario, _, conf = name.partition("/")
    kw = dict(kwargs)
    if time_limit is not None:
        kw.setdefault("max_episode_steps", time_limit)
    _check_length(f"mamujoco:{name}", "max_episode_steps", kw.get("max_episode_steps"))
    try:
        env = mamujoco_v1.parallel_env(scenario, conf or None, **kw)
    except Exception as exc:  # e.g. an unknown agent_conf: MaMuJoCo raises a bare Exception
        raise UserError(f"MaMuJoCo rejected '{name}' with kwargs {sorted(kwargs)}: {exc}") from None
    env.default_time_limit = kw.get("max_episode_steps", 1000)
    return env


def _check_length(source: str, key: str, value: Any) -> None:
    """Refuse an episode length (``max_cycles``, ``max_episode_steps``) that is not an integer >= 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UserError(f"source '{source}': {key} must be an integer >= 1, got {value!r}")
