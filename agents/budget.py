"""What a ``learn`` call is given and what it declares, for every agent.

``learn(steps)`` takes a whole number of environment steps >= 0 (``1e5`` reads as 100000; ``2.5``,
``-5`` or ``"x"`` are refused in one line before anything runs): ``checked`` wraps the ``learn`` of
every agent that ``agents.make``/``agents.load`` build. ``learn(0)`` builds what the first call
builds and steps nothing (``agents.training_state.prepare`` relies on it). The first call that
trains declares the run's budget, ``total_steps``, which the schedules (learning rates, exploration,
ramps) span: ``declare_budget``.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

from agents.base import wrap_learn
from scenarios import UserError


def whole_steps(name: str, steps: Any) -> int:
    """``steps`` as an ``int`` if it is a whole number >= 0; otherwise one line naming ``name``.

    >>> whole_steps("ppo", 1e5), whole_steps("ppo", 0)
    (100000, 0)
    """
    ok = isinstance(steps, numbers.Real) and not isinstance(steps, bool) and float(steps).is_integer() and steps >= 0
    if not ok:
        raise UserError(f"{name}: learn takes a whole number of environment steps >= 0, got {steps!r}")
    return int(steps)


def declare_budget(h: dict[str, Any], done: int, steps: int) -> int:
    """The run's budget, which the schedules span: the first ``learn`` call that trains declares
    ``total_steps`` (``done + steps``, saved with the checkpoint) unless it was set; returns it, or
    ``done + steps`` while none is declared. A ``learn(0)`` (which only builds what the first call
    builds) declares nothing: a zero declared there froze every schedule at its end and left a
    checkpoint that failed its own check.

    >>> h = {"total_steps": None}
    >>> declare_budget(h, 0, 0), h["total_steps"], declare_budget(h, 0, 500), declare_budget(h, 500, 100)
    (0, None, 500, 500)
    """
    if h.get("total_steps") is None and steps > 0:
        h["total_steps"] = int(done + steps)
    declared = h.get("total_steps")
    return declared if declared is not None else int(done + steps)


def checked(agent: Any) -> Any:
    """Wrap ``agent.learn`` so that its step count passes ``whole_steps`` first; returns the agent."""
    name = str(getattr(agent, "name", type(agent).__name__))

    def wrap(learn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(learn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if args:
                args = (whole_steps(name, args[0]), *args[1:])
            elif "steps" in kwargs:
                kwargs["steps"] = whole_steps(name, kwargs["steps"])
            return learn(*args, **kwargs)
        return call

    return wrap_learn(agent, "__budget_checked__", wrap)
