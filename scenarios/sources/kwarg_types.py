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
