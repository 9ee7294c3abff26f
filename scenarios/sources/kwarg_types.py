"""The kind of value a source's constructor expects for each keyword argument, checked before it runs.

Gymnasium and PettingZoo envs store most constructor arguments as given and use them only once
the world moves: ``Pendulum-v1`` built with ``g: "abc"`` fails at its first step, deep inside
the physics. Each named parameter of the constructor declares what it takes, by annotation
(``int``, ``float``, ``bool``, ``str``) or, unannotated, by the type of its default (a number or
a flag); a given value of another kind is refused in one line naming the parameter, the value
and what it takes. Parameters whose annotation is anything else (``str | None``, tuples,
dicts) are left to the library, as are constructors that only take ``**kwargs``.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any

from scenarios.errors import UserError

KINDS = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string"}


def _expected(param: inspect.Parameter) -> str | None:
    """``bool``, ``int``, ``float`` or ``str`` where the parameter declares one, else None."""
    ann = param.annotation
    name = ann if isinstance(ann, str) else getattr(ann, "__name__", None)
    if ann is not inspect.Parameter.empty:
        return name if name in KINDS else None
    default = param.default
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, numbers.Real):  # an unannotated 0 may take 0.5 (MountainCarContinuous's goal_velocity)
        return "float"
    return "str" if isinstance(default, str) else None


def _fits(kind: str, value: Any) -> bool:
    """Whether ``value`` is of ``kind`` (NumPy scalars count; a flag is not a number)."""
    if kind == "bool":
        return isinstance(value, bool) or type(value).__name__ == "bool_"
    if kind == "str":
        return isinstance(value, str)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    return isinstance(value, numbers.Integral if kind == "int" else numbers.Real)


def constructor(source: str) -> Any:
    """What a source string's kwargs are passed to, for their check: a Gymnasium env's class (or
    function; Gymnasium-Robotics' and our extra envs registered first), a PettingZoo module's
    ``raw_env``, MaMuJoCo's ``parallel_env``, our matrix game; None where it is not known or cannot be
    loaded (nothing is checked then; the source's construction reports its own errors)."""
    import importlib

    kind, _, name = source.partition(":")
    try:
        if kind == "gymnasium":
            import gymnasium as gym
            from gymnasium.envs.registration import load_env_creator

            from scenarios.sources.gymnasium_source import register_extras

            if name not in gym.registry:
                register_extras(name)
            entry = gym.registry[name].entry_point
            return entry if callable(entry) else load_env_creator(entry)
        if kind == "pettingzoo":
            return getattr(importlib.import_module(name), "raw_env", None)
        if kind == "mamujoco":
            from gymnasium_robotics import mamujoco_v1

            return mamujoco_v1.parallel_env
        if kind == "matrix":
            from scenarios.sources.matrix_games import MatrixGame

            return MatrixGame
    except Exception:  # noqa: BLE001 - the source's own construction reports an unknown or broken env
        return None
    return None


def check_kwarg_types(source: str, ctor: Any, kwargs: dict[str, Any]) -> None:
    """Raise one UserError line for the first kwarg whose value is not the kind ``ctor`` declares."""
    try:
        params = inspect.signature(ctor).parameters
    except (TypeError, ValueError):  # a builtin or an object without a signature: nothing to check
        return
    for key, value in kwargs.items():
        kind = _expected(params[key]) if key in params else None
        if kind is not None and not _fits(kind, value):
            raise UserError(f"source '{source}': kwarg {key} takes {KINDS[kind]}, got {value!r} "
                            f"({type(value).__name__})")
