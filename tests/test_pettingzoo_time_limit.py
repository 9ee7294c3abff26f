"""A PettingZoo source's episode-length end is a truncation on every face: SISL's multiwalker marks its
own ``max_cycles`` end as a termination, so every time-limit end was stored as terminal (no bootstrap).
The source is now built one step longer and the scenario's time limit truncates first."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios


@pytest.mark.parametrize("kwargs", [{"time_limit": 3}, {"time_limit": 5, "max_cycles": 3}])
def test_multiwalkers_time_limit_end_is_a_truncation(kwargs):
    sc = scenarios.make("sisl/multiwalker-v9", **kwargs)
    assert sc.time_limit == 3
    obs, _ = sc.reset(seed=0)
    flags = []
    for _ in range(3):  # zero torques for three steps: no walker falls
        _, _, term, trunc, _ = sc.step({a: np.zeros(sc.action_space(a).shape, np.float32) for a in sc.agents})
        flags.append((any(term.values()), all(trunc.values())))
    assert flags == [(False, False), (False, False), (False, True)]


def test_mpe2_still_ends_at_its_length_on_both_faces():
    sc = scenarios.make("mpe/simple_spread-v3", time_limit=4)
    assert sc.time_limit == 4 and sc.source.default_time_limit == 4
    for backend in ("batch", "gymnasium"):
        vec = sc.vector(2, seed=0, backend=backend)
        vec.reset()
        steps = [vec.step({a: np.zeros(2, np.int64) for a in vec.agents}) for _ in range(4)]
        assert [s[3]["agent_0"].all() for s in steps] == [False, False, False, True], backend
        assert not any(s[2]["agent_0"].any() for s in steps), backend
