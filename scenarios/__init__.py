"""Scenarios: sources (Gymnasium MuJoCo, mpe2, SISL, MaMuJoCo, classic, toy-text,
matrix games) under one multi-agent API with Gymnasium, PettingZoo and
vectorized faces, defined by validated specs and a versioned registry.

After ``import scenarios`` our ids are in Gymnasium's registry (so
``gymnasium.make("mujoco/Hopper-hard-v0")`` works): registered at once if
Gymnasium is imported already, else the moment it is; the spec models
(pydantic), the faces, the sources and MuJoCo are imported when first used
(``scenarios.ScenarioSpec``, ``scenarios.make``...), so listing ids and refusing
an unknown one stay fast.
"""

from __future__ import annotations

from scenarios.errors import UserError
from scenarios.lazy_imports import lazy_attributes, when_imported
from scenarios.registry import get_spec, list_ids, make, register, register_gymnasium_ids, resolve_spec

when_imported("gymnasium", register_gymnasium_ids)  # our ids are in Gymnasium's registry whenever it is imported

_LAZY = {
    "LayerSpec": "scenarios.spec",
    "ScenarioSpec": "scenarios.spec",
    "load_spec_file": "scenarios.spec",
    "parse_spec": "scenarios.spec",
    "Scenario": "scenarios.scenario",
    "VectorScenario": "scenarios.vector",
    "parallel_env": "scenarios.pettingzoo_face",
}


__getattr__ = lazy_attributes("scenarios", _LAZY, globals())

__all__ = [
    "LayerSpec",
    "Scenario",
    "ScenarioSpec",
    "UserError",
    "VectorScenario",
    "get_spec",
    "list_ids",
    "load_spec_file",
    "make",
    "parallel_env",
    "parse_spec",
    "register",
    "resolve_spec",
]
