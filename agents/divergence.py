"""Training that diverged says so in one line instead of a traceback or a silent NaN policy.

A learning rate inside its valid range (``> 0``) can still be too large for a task: the weights
overflow, and then either a library raises from deep inside the update (torch's distributions:
``Expected parameter loc ... to satisfy the constraint Real()``, a traceback through SB3) or
nothing is raised at all and a checkpoint of NaN weights is saved and evaluated (NumPy networks
propagate NaN quietly). ``guard(agent)`` wraps the agent's ``learn``: after each call, and when
the call raised, it looks for a non-finite network parameter (every ``torch.nn.Module`` the agent
holds, and our NumPy networks' parameter vectors); if it finds one it raises ``Diverged``, a
``UserError`` naming the agent, the parameter, the steps trained and the learning rate, so the
command line prints one line and exits with status 2. An exception with finite weights is not a
divergence and propagates unchanged.

The search walks the agent's attributes as ``agents.training_state`` does (dicts, lists, objects),
but reads no array contents other than the parameters, so it costs milliseconds per ``learn``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from agents.base import wrap_learn
from agents.numpy_mlp import MLPStack
from agents.numpy_policy import NumpyPolicy
from agents.training_state import not_state
from scenarios import UserError

_DEPTH = 8
_INVALID_DISTRIBUTION = re.compile(r"Expected parameter \w+ .* to satisfy the constraint .* but found invalid values"
                                   r"|probability tensor contains either `inf`, `nan` or element < 0", re.S)
"""torch.distributions' check of its parameters, and ``torch.multinomial``'s of its probabilities (i2a
samples its actions so): finite weights can still give an infinite scale (``exp`` of a huge log-std)
or infinite logits, which only these errors report."""
MODEL_PREFIX = "model."
"""Where the model-based agents keep their learned dynamics model (``agents.model_based``): its
divergence poisons everything trained on its predictions, so it is reported first, with ``model_lr``."""
_WIDTH = 256
"""Containers longer than this are data (episode lists, buffers), not where networks live: not walked."""
_WORLDS = ("scenarios", "mujoco", "gymnasium", "pettingzoo", "mpe2")
"""The environments an agent trains on hold no learner's networks (an adversary layer's policy is not
the learner's): not walked."""


class Diverged(UserError):
    """Training produced non-finite network parameters."""


def _parameters(root: Any) -> Iterator[tuple[str, Any]]:
    """(path, parameter) for every torch parameter and NumPy network vector reachable from ``root``."""
    seen: set[int] = set()
    todo: list[tuple[Any, str, int]] = [(root, "", 0)]
    while todo:
        x, path, depth = todo.pop()
        if id(x) in seen or depth > _DEPTH or x is None or isinstance(x, (str, bytes, int, float, bool, np.ndarray)):
            continue
        seen.add(id(x))
        if isinstance(x, torch.nn.Module):
            for name, p in x.named_parameters():
                yield f"{path}.{name}".lstrip("."), p
            continue
        if isinstance(x, (MLPStack, NumpyPolicy)):
            yield path.lstrip(".") or type(x).__name__, x.flat
            continue
        module = getattr(type(x), "__module__", None) or ""  # SWIG's types (Box2D's) have none
        if isinstance(x, torch.Tensor) or not_state(x) or module.split(".")[0] in _WORLDS:
            continue
        if isinstance(x, (dict, list, tuple)) and len(x) > _WIDTH:
            continue
        if isinstance(x, dict):
            items = [(f"{path}[{k!r}]", v) for k, v in x.items() if isinstance(k, (str, int))]
        elif isinstance(x, (list, tuple)):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(x)]
        else:
            attrs = getattr(x, "__dict__", None)
            if not isinstance(attrs, dict):
                continue
            items = [(f"{path}.{k}", v) for k, v in attrs.items()]
        todo += [(v, p, depth + 1) for p, v in reversed(items)]


def nonfinite_parameter(agent: Any) -> str | None:
    """The path of the agent's first network parameter holding NaN or an infinity, or None; where the
    agent has a ``model_lr`` (a learned dynamics model) and the model's parameters are among them, the
    model's first (an actor fed NaN predictions came first and was blamed on learning_rate)."""
    first = None
    model_first = "model_lr" in (getattr(agent, "hparams", None) or {})
    with torch.no_grad():
        for path, p in _parameters(agent):
            if not _finite(p):
                if not model_first or path.startswith(MODEL_PREFIX):
                    return path
                first = first or path
    return first


def _finite(p: Any) -> bool:
    """Whether every entry of ``p`` is finite: a sum first (no array the size of ``p``), the exact
    test only where the sum is not (huge finite entries can overflow it)."""
    if isinstance(p, torch.Tensor):
        return bool(torch.isfinite(p.sum())) or bool(torch.isfinite(p).all())
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(p.sum())) or bool(np.isfinite(p).all())


def _message(agent: Any, where: str, steps: int) -> str:
    name = getattr(agent, "name", type(agent).__name__)
    hparams = getattr(agent, "hparams", None) or {}
    key = "model_lr" if where.startswith(MODEL_PREFIX) and "model_lr" in hparams else "learning_rate"
    lr = hparams.get(key)
    hint = f"{key} {lr!r} is likely too large for this task; lower it" if lr is not None else "lower its step sizes"
    if "max_grad_norm" in hparams:
        hint += ", or clip gradients with max_grad_norm"
    return f"{name} diverged during training: non-finite values in {where} within its first {steps} steps ({hint})"


def guard(agent: Any) -> Any:
    """Wrap ``agent.learn`` so that a divergence raises ``Diverged`` (one line) after the call, or in
    place of the exception it caused; returns the agent."""
    def wrap(learn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(learn)
        def call(*args: Any, **kwargs: Any) -> Any:
            requested = args[0] if args else kwargs.get("steps", 0)
            steps = int(getattr(agent, "steps_trained", 0) or 0) + int(requested or 0)
            try:
                out = learn(*args, **kwargs)
            except (ValueError, RuntimeError, FloatingPointError, OverflowError) as exc:
                where = nonfinite_parameter(agent)
                if where is None and _INVALID_DISTRIBUTION.search(str(exc)):
                    where = "the outputs of its networks (a distribution's parameters)"
                if where is None:
                    raise
                raise Diverged(_message(agent, where, steps)) from exc
            where = nonfinite_parameter(agent)
            if where is not None:
                raise Diverged(_message(agent, where, steps))
            return out
        return call

    return wrap_learn(agent, "__divergence_guard__", wrap)
