"""mpe_dynamics clamps damping to its physical range [0, 1] on every face, as the other fields are
clamped below: mpe2 multiplies velocities by ``1 - damping``, so a damping of 5 made them flip sign
and grow fourfold each step."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from scenarios.layers.sampling import apply_operation

SID = "mpe/simple_spread-v3"


def _layer(operation: str, value: float) -> dict:
    return {"type": "mpe_dynamics", "params": {"parameters": [
        {"field": "damping", "operation": operation, "distribution": "constant", "value": value}]}}


@pytest.mark.parametrize("operation,value", [("set", 5.0), ("scale", 40.0), ("add", 3.0)])
def test_damping_above_one_is_clamped_on_both_faces(operation, value):
    sc = scenarios.make(SID, layers=[_layer(operation, value)])
    _, infos = sc.reset(seed=0)
    assert infos["agent_0"]["layers"]["damping"] == 1.0
    assert sc.source.unwrapped.world.damping == 1.0
    vec = sc.vector(2, seed=0, backend="batch")
    _, vinfos = vec.reset(seed=0)
    assert [info["agents"]["agent_0"]["layers"]["damping"] for info in vinfos] == [1.0, 1.0]
    for _ in range(20):
        obs, *_ = vec.step({a: np.ones(2, np.int64) for a in vec.agents})
    assert all(np.abs(o).max() < 100 for o in obs.values())


def test_damping_within_range_is_written_as_given():
    sc = scenarios.make(SID, layers=[_layer("set", 0.6)])
    _, infos = sc.reset(seed=0)
    assert infos["agent_0"]["layers"]["damping"] == 0.6


def test_apply_operation_clamps_to_both_bounds():
    out = apply_operation(np.array([0.5, 0.5]), np.array([-2.0, 5.0]), "add", 0.0, 1.0)
    np.testing.assert_array_equal(out, [0.0, 1.0])
    np.testing.assert_array_equal(apply_operation(np.array([2.0]), np.array([3.0]), "scale", 0.0), [6.0])
