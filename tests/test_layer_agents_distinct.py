"""A layer's ``agents`` list naming an agent twice is refused in one line: the stack ran the layer's
per-agent hooks once per mention, so ``obs_bias`` of 1 added 2 on both faces."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from scenarios import UserError
from tests.test_cli import assert_user_error, run


def _bias(agents: list[str] | None) -> dict:
    return {"type": "obs_bias", "params": {"value": 1.0}, "agents": agents}


@pytest.mark.parametrize("sid,agents", [("classic/Pendulum-v1", ["agent_0", "agent_0"]),
                                        ("mpe/simple_spread-v3", ["agent_1", "agent_0", "agent_1"])])
def test_an_agent_named_twice_is_refused(sid, agents):
    with pytest.raises(UserError, match=r"field 'layers.0.agents': .*given twice \(valid: distinct agent names\)") as e:
        scenarios.make(sid, layers=[_bias(agents)])
    assert "\n" not in str(e.value)


def test_the_layer_still_applies_once_per_named_agent():
    base, _ = scenarios.make("classic/Pendulum-v1").reset(seed=0)
    obs, _ = scenarios.make("classic/Pendulum-v1", layers=[_bias(["agent_0"])]).reset(seed=0)
    np.testing.assert_allclose(obs["agent_0"] - base["agent_0"], 1.0, rtol=1e-6)


def test_testbed_check_refuses_a_spec_file_naming_an_agent_twice(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("id: my/P-v0\nsource: gymnasium:Pendulum-v1\n"
                    "layers: [{type: obs_bias, params: {value: 1.0}, agents: [agent_0, agent_0]}]\n")
    assert_user_error(run("check", str(path), cwd=tmp_path), r"agent_0 given twice")


def test_an_empty_agents_list_is_refused():
    """``agents: []`` built a layer that changed nothing, without a word."""
    with pytest.raises(UserError, match=r"field 'layers.0.agents': .*applies the layer to no agent \(valid: omit agents"):
        scenarios.make("mpe/simple_spread-v3", layers=[_bias([])])
