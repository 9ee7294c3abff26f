"""Agents: one protocol for every method (``learn``, ``act``, ``save``), built by
name with tuned defaults, restored from checkpoint folders.

The registry (and with it torch and SB3) is imported on first use of
``agents.make``, ``agents.load``...; ``agents.index`` answers what an agent is
(names, capabilities, hyperparameters) without importing any of them.
"""

from __future__ import annotations

from scenarios.lazy_imports import lazy_attributes

_LAZY = {
    "Agent": "agents.base",
    "Capabilities": "agents.base",
    "ProgressFn": "agents.base",
    "agent_class": "agents.registry",
    "list_names": "agents.registry",
    "load": "agents.registry",
    "make": "agents.registry",
    "register": "agents.registry",
    "save": "agents.registry",
}


__getattr__ = lazy_attributes("agents", _LAZY, globals())

__all__ = ["Agent", "Capabilities", "ProgressFn", "agent_class", "list_names", "load", "make", "register", "save"]
