"""A misspelled layer parameter is named, with the valid ones, instead of hiding behind the
'Field required' its correct spelling then reports (``sdt: 0.1`` said "'std': Field required")."""

from __future__ import annotations

import pytest

import scenarios
from scenarios import UserError


@pytest.mark.parametrize("layer,match", [
    ({"type": "obs_gaussian_noise", "params": {"sdt": 0.1}},
     r"layer 0 \(obs_gaussian_noise\): 'sdt': Extra inputs are not permitted; did you mean: std\? \(valid: std\)"),
    ({"type": "obs_gaussian_noise", "params": {"std": {"kind": "sine", "low": 0, "high": 1, "perod": 5}}},
     r"'std.perod': Extra inputs are not permitted; did you mean: period\? \(valid: kind, value, low, high"),
    ({"type": "dynamics", "params": {"parameters": [{"fieldd": "body_mass", "low": 1, "high": 2}]}},
     r"'parameters.0.fieldd': Extra inputs are not permitted; did you mean: field\? \(valid: field, names,"),
    ({"type": "push", "params": {"body": "torso", "every": 5, "impluse": [1, 2]}},
     r"'impluse': Extra inputs are not permitted; did you mean: impulse\?"),
    ({"type": "goal_flatten", "params": {"x": 1}}, r"'x': Extra inputs are not permitted \(valid: no parameters\)"),
])
def test_a_misspelled_parameter_is_named_with_the_valid_ones(layer, match):
    with pytest.raises(UserError, match=match) as e:
        scenarios.make("mujoco/Hopper-v5", layers=[layer]).reset(seed=0)
    assert "\n" not in str(e.value)


def test_a_missing_parameter_alone_is_still_reported_as_missing():
    with pytest.raises(UserError, match=r"'std': Field required"):
        scenarios.make("mujoco/Hopper-v5", layers=[{"type": "obs_gaussian_noise", "params": {}}]).reset(seed=0)
