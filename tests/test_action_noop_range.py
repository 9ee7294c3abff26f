"""A discrete ``noop`` that the action space does not have is refused in one line when the scenario
is built, on every face, instead of reaching the source as an invalid action mid-episode."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from scenarios import UserError


@pytest.mark.parametrize("sid", ["classic/CartPole-v1", "mpe/simple_spread-v3"])
@pytest.mark.parametrize("kind", ["action_dropout", "action_delay"])
def test_a_noop_outside_the_discrete_action_space_is_one_line(sid, kind):
    params = {"noop": 7, **({"probability": 1.0} if kind == "action_dropout" else {"steps": 2})}
    layer = {"type": kind, "params": params}
    for build in (lambda: scenarios.make(sid, layers=[layer]).reset(seed=0),
                  lambda: scenarios.make(sid, layers=[layer]).vector(2, seed=0).reset()):
        with pytest.raises(UserError, match=r"noop 7 is not an action of agent_0 \(valid: 0-") as e:
            build()
        assert "\n" not in str(e.value)


def test_the_last_action_of_the_space_is_a_valid_noop():
    sc = scenarios.make("classic/CartPole-v1", layers=[{"type": "action_dropout", "params": {"probability": 1.0, "noop": 1}}])
    sc.reset(seed=0)
    obs, *_ = sc.step({"agent_0": np.int64(0)})  # dropped: the source receives action 1
    ref = scenarios.make("classic/CartPole-v1")
    ref.reset(seed=0)
    expected, *_ = ref.step({"agent_0": np.int64(1)})
    np.testing.assert_array_equal(obs["agent_0"], expected["agent_0"])
