"""Agents: one protocol for every method (``learn``, ``act``, ``save``), built by
name with tuned defaults, restored from checkpoint folders."""

from agents.base import Agent, Capabilities, ProgressFn
from agents.registry import agent_class, list_names, load, make, register

__all__ = ["Agent", "Capabilities", "ProgressFn", "agent_class", "list_names", "load", "make", "register"]
