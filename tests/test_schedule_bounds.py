"""A scheduled noise std is held to the same ``>= 0`` as a constant one, and a step schedule's
boundaries must increase (unsorted ones made ``searchsorted`` pick arbitrary values)."""

from __future__ import annotations

import math

import pytest

import scenarios
from scenarios import UserError
from scenarios.layers.schedules import Schedule


@pytest.mark.parametrize("std", [
    {"kind": "constant", "value": -1.0},
    {"kind": "uniform", "low": -0.5, "high": 0.5},
    {"kind": "sine", "low": -0.1, "high": 0.2, "period": 10},
    {"kind": "drift", "start": 0.5, "rate": -0.01},           # no floor: reaches every negative value
    {"kind": "step", "values": [0.1, -0.2], "boundaries": [5]},
])
@pytest.mark.parametrize("layer", ["obs_gaussian_noise", "action_gaussian_noise"])
def test_a_schedule_that_takes_a_std_below_zero_is_refused_in_one_line(layer, std):
    with pytest.raises(UserError, match=r"std must be >= 0 \(got a schedule reaching ") as e:
        scenarios.make("classic/Pendulum-v1", layers=[{"type": layer, "params": {"std": std}}]).reset(seed=0)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("std", [
    {"kind": "drift", "start": 0.5, "rate": -0.01, "low": 0.0},
    {"kind": "sine", "low": 0.0, "high": 0.2, "period": 10},
    {"kind": "random_walk", "low": 0.0, "high": 0.3, "step_std": 0.1},
])
def test_a_schedule_that_stays_non_negative_still_builds(std):
    sc = scenarios.make("classic/Pendulum-v1", layers=[{"type": "obs_gaussian_noise", "params": {"std": std}}])
    sc.reset(seed=0)


def test_the_lowest_value_of_each_kind():
    assert Schedule(kind="constant", value=2.0).lowest() == 2.0
    assert Schedule(kind="drift", start=1.0, rate=0.5).lowest() == 1.0
    assert Schedule(kind="drift", start=1.0, rate=-0.5).lowest() == -math.inf
    assert Schedule(kind="step", values=[3.0, 1.0, 2.0], boundaries=[1, 2]).lowest() == 1.0
    assert Schedule(kind="saw", low=0.25, high=1.0, period=4).lowest() == 0.25


@pytest.mark.parametrize("boundaries", [[5, 2], [3, 3]])
def test_step_boundaries_that_do_not_increase_are_refused(boundaries):
    layer = {"type": "obs_gaussian_noise",
             "params": {"std": {"kind": "step", "values": [0.1, 0.2, 0.3], "boundaries": boundaries}}}
    with pytest.raises(UserError, match=r"boundaries must increase"):
        scenarios.make("classic/Pendulum-v1", layers=[layer]).reset(seed=0)
