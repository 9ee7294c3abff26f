"""The random policy's batched draws are the per-copy ``space.sample()`` calls, in one call."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

import agents
from agents.random_agent import draw

SPACES = [
    spaces.Discrete(5),
    spaces.Discrete(7, start=-3),
    spaces.Discrete(4, dtype=np.int32),
    spaces.Box(-1.0, 1.0, (5,), np.float32),
    spaces.Box(np.array([0.0, -2.0, 0.0]), np.array([1.0, 2.0, 3.0]), dtype=np.float64),
    spaces.Box(-1.0, 1.0, (2, 3), np.float32),
    spaces.Box(-np.inf, 1.0, (3,), np.float32),  # not bounded: the per-copy loop
    spaces.Box(0, 10, (2,), np.int64),  # integer Box: the per-copy loop
    spaces.MultiDiscrete([3, 4]),
]


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_draw_is_the_per_copy_samples(space: spaces.Space) -> None:
    space.seed(11)
    want = np.stack([np.asarray(space.sample()) for _ in range(64)])
    space.seed(11)
    got = draw(space, 64)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert all(space.contains(row) for row in got)


@pytest.mark.parametrize("scenario", ["mpe/simple_spread-v3", "mpe/simple_speaker_listener-v4",
                                      "mujoco/Hopper-v5", "classic/CartPole-v1"])
def test_random_agent_draws_as_before(scenario: str) -> None:
    """The batched policy gives what sampling each copy's action one by one gave."""
    import scenarios

    sc = scenarios.make(scenario)
    policy = agents.make("random", sc, seed=5)
    vec = sc.vector(6, seed=0)
    obs, _ = vec.reset()
    got = [policy.act(obs) for _ in range(3)]
    ref_spaces = {a: sc.action_space(a) for a in sc.possible_agents}
    for k, space in enumerate(ref_spaces.values()):
        space.seed(5 + k)
    for step in got:
        for a, space in ref_spaces.items():
            np.testing.assert_array_equal(step[a], np.stack([np.asarray(space.sample()) for _ in range(6)]))
