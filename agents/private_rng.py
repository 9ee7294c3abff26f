"""Each agent's own copy of the process-wide random generators, so agents do not disturb each other.

torch's default generator, NumPy's legacy ``np.random`` and Python's ``random`` are process-wide:
SB3 seeds all three when it builds a model (``set_random_seed``), samples actions and minibatches
from them, and several of our learners initialise weights with ``torch.manual_seed``. Two agents
in one process (a victim and an attacker, an ensemble of seeds, a notebook) would then reseed and
consume each other's streams, and building agent B would change what agent A learns next.

``PrivateRandomState`` holds one agent's states of the three generators. ``agents.make`` and
``agents.load`` build the agent inside ``active()`` and wrap its public methods so that each call
runs on the agent's own states and restores the caller's afterwards: global state is the same
before and after any call of an agent, and an agent's results depend on its seed alone. The
states are plain arrays and tuples, so they travel in the training state of a checkpoint.
Switching torch's state costs ~6 µs in and out; NumPy's legacy state ~90 µs each way (both measured here), so
NumPy's and Python's states are switched only where something of ours or SB3's may draw from
them: building, ``learn``, ``save`` and a stochastic ``act`` (SB3's epsilon-greedy ``predict``);
a deterministic ``act``, ``policy_distribution`` and ``value`` switch torch's alone.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

WRAPPED = ("learn", "act", "policy_distribution", "value", "save")
"""The agent methods that run on the agent's own generator states."""
TORCH_ONLY = ("policy_distribution", "value")
"""Of those, the ones that draw nothing from NumPy's or Python's global generators."""


class PrivateRandomState:
    """One agent's torch, NumPy-legacy and Python ``random`` generator states.

    >>> rng = PrivateRandomState(0)
    >>> before = torch.get_rng_state()
    >>> with rng.active():
    ...     a = torch.rand(1)
    >>> torch.equal(before, torch.get_rng_state())
    True
    >>> with PrivateRandomState(0).active():
    ...     torch.equal(a, torch.rand(1))
    True
    """

    def __init__(self, seed: int | None) -> None:
        if seed is None:  # unseeded: fresh entropy, not the caller's streams
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        gen = torch.Generator().manual_seed(int(seed))
        self.torch_state = gen.get_state()
        self.numpy_state = np.random.RandomState(int(seed) % 2**32).get_state()
        self.python_state = random.Random(int(seed)).getstate()
        self.depth = 0

    @contextmanager
    def active(self, full: bool = True) -> Iterator[None]:
        """Run the block on this agent's states (torch's alone unless ``full``); the caller's come back
        afterwards (nesting is a no-op)."""
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        outer_torch = torch.get_rng_state()
        torch.set_rng_state(self.torch_state)
        if full:
            outer = (np.random.get_state(), random.getstate())
            np.random.set_state(self.numpy_state)
            random.setstate(self.python_state)
        self.depth = 1
        try:
            yield
        finally:
            self.depth = 0
            self.torch_state = torch.get_rng_state()
            torch.set_rng_state(outer_torch)
            if full:
                self.numpy_state, self.python_state = np.random.get_state(), random.getstate()
                np.random.set_state(outer[0])
                random.setstate(outer[1])


def _wrap(method: Callable[..., Any], rng: PrivateRandomState, name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        if name in TORCH_ONLY:
            full = False
        elif name == "act":
            full = not kwargs.get("deterministic", args[1] if len(args) > 1 else True)
        else:
            full = True
        with rng.active(full):
            return method(*args, **kwargs)

    call.__private_rng__ = True  # type: ignore[attr-defined]
    return call


def build(factory: Callable[[], Any], seed: int | None) -> Any:
    """Build an agent with ``factory`` on its own generator states and give it those states for
    every later call of its public methods (``WRAPPED``)."""
    rng = PrivateRandomState(seed)
    with rng.active():
        agent = factory()
    attach(agent, rng)
    return agent


def attach(agent: Any, rng: PrivateRandomState) -> None:
    """Make ``agent``'s public methods run on ``rng`` (instance attributes wrapping the bound methods)."""
    agent._private_rng = rng
    for name in WRAPPED:
        method = getattr(agent, name, None)
        if callable(method) and not getattr(method, "__private_rng__", False):
            try:
                setattr(agent, name, _wrap(method, rng, name))
            except AttributeError:  # a class that refuses instance attributes keeps the global streams
                pass


def states_of(agent: Any) -> PrivateRandomState | None:
    """The agent's private generator states (None for an agent built without ``agents.make``/``load``)."""
    return getattr(agent, "_private_rng", None)
