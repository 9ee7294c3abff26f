"""Scenarios: sources (Gymnasium MuJoCo, mpe2, SISL, MaMuJoCo, classic, toy-text,
matrix games) under one multi-agent API with Gymnasium, PettingZoo and
vectorized faces, defined by validated specs and a versioned registry."""

from scenarios.errors import UserError
from scenarios.pettingzoo_face import parallel_env
from scenarios.registry import get_spec, list_ids, make, register, register_gymnasium_ids, resolve_spec
from scenarios.scenario import Scenario
from scenarios.spec import LayerSpec, ScenarioSpec, load_spec_file, parse_spec
from scenarios.vector import VectorScenario

register_gymnasium_ids()

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
