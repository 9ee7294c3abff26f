"""Dependencies point one way: scenarios imports none of the packages above it, agents
neither testbed nor sim2real; sim2real's ADR is reached through an entry point."""

import subprocess
import sys

import pytest

import agents
from scenarios import UserError

ABOVE = {"scenarios": ("agents", "testbed", "sim2real"), "agents": ("testbed", "sim2real"), "sim2real": ()}


EVERYTHING = {"scenarios": "scenarios.scenario, scenarios.vector, scenarios.batch, scenarios.pettingzoo_face",
              "agents": "agents.registry"}  # the packages' __init__ are lazy: import what they hold


@pytest.mark.parametrize("package", ["scenarios", "agents"])
def test_a_lower_package_imports_nothing_above_it(package):
    code = (f"import sys, {EVERYTHING[package]}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({ABOVE[package]!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import {package} imported {out}"


def test_entry_point_agents_resolve_on_first_use():
    assert "adr" in agents.list_names()
    from sim2real.adr import ADR

    assert agents.agent_class("adr") is ADR
    with pytest.raises(UserError, match="already registered"):
        agents.register("adr", "sim2real.adr:ADR")
    with pytest.raises(UserError, match="must look like"):
        agents.register("mine", "no_colon")
