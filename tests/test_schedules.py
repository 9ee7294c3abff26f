"""Each schedule is a pure function with known values."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from scenarios.layers import schedules as s


def test_constant_and_drift():
    assert s.constant(123, 0.7) == 0.7
    assert s.drift(10, 1.0, 0.5) == 6.0
    assert s.drift(10, 1.0, 0.5, high=4.0) == 4.0


def test_sine_and_saw():
    assert s.sine(0, 0.0, 2.0, 100) == pytest.approx(1.0)
    assert s.sine(25, 0.0, 2.0, 100) == pytest.approx(2.0)
    assert s.sine(75, 0.0, 2.0, 100) == pytest.approx(0.0)
    assert s.saw(0, 1.0, 3.0, 10) == 1.0 and s.saw(5, 1.0, 3.0, 10) == 2.0 and s.saw(10, 1.0, 3.0, 10) == 1.0


def test_step_schedule():
    assert [s.step(t, [1.0, 2.0, 3.0], [10, 20]) for t in (0, 9, 10, 19, 20, 99)] == [1, 1, 2, 2, 3, 3]


def test_random_walk_stays_in_bounds_and_is_seeded():
    def walk(seed):
        rng, x, xs = np.random.default_rng(seed), 0.5, []
        for _ in range(5000):
            x = float(s.random_walk(x, rng.standard_normal(), 0.2, 0.0, 1.0))
            xs.append(x)
        return np.array(xs)

    xs = walk(1)
    assert xs.min() >= 0.0 and xs.max() <= 1.0 and xs.std() > 0.1
    assert np.array_equal(xs, walk(1))


def test_uniform_per_episode_range():
    rng = np.random.default_rng(0)
    xs = [s.uniform_per_episode(rng, 2.0, 3.0) for _ in range(1000)]
    assert 2.0 <= min(xs) and max(xs) <= 3.0 and abs(np.mean(xs) - 2.5) < 0.05


def test_schedule_spec_validation_and_evaluation():
    with pytest.raises(ValidationError, match="needs period"):
        s.Schedule(kind="sine", low=0, high=1)
    with pytest.raises(ValidationError, match="above high"):
        s.Schedule(kind="saw", low=2, high=1, period=5)
    one, rngs = np.zeros(1, np.int64), [np.random.default_rng(0)]
    v = s.ScheduledValue(s.Schedule(kind="saw", low=0.0, high=1.0, period=4))
    assert v.reset(one, rngs)[0] == 0.0
    assert [float(v.advance(one, np.array([t]))[0]) for t in (1, 2, 3, 4)] == [0.25, 0.5, 0.75, 0.0]
    g = s.ScheduledValue(s.Schedule(kind="drift", start=0.0, rate=1.0, clock="global"))
    g.reset(one, rngs)
    for t in (1, 2, 3):
        g.advance(one, np.array([t]))
    assert g.reset(one, rngs)[0] == 3.0 and math.isclose(g.advance(one, np.array([1]))[0], 4.0)  # the global clock spans episodes


def test_schedules_evaluate_per_copy():
    """Copies at different steps get their own values from one vectorized call."""
    spec = s.Schedule(kind="sine", low=0.0, high=2.0, period=100)
    np.testing.assert_allclose(spec.at(np.array([0, 25, 75]), np.zeros(3), np.zeros(3)), [1.0, 2.0, 0.0], atol=1e-12)
    v = s.ScheduledValue(s.Schedule(kind="uniform", low=2.0, high=3.0), n=3)
    rngs = [np.random.default_rng(k) for k in range(3)]
    got = v.reset(np.arange(3), rngs)
    assert len(set(got.tolist())) == 3 and ((2.0 <= got) & (got <= 3.0)).all()
