"""Aggregate statistics: hand-computed cases, and agreement with rliable where it is installed."""

import numpy as np
import pytest

from testbed import aggregate as agg

SCORES = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 100.0]])  # 4 runs x 2 tasks


def test_point_estimates_by_hand():
    assert agg.mean(SCORES) == pytest.approx((3.0 + 27.25) / 2)
    assert agg.median(SCORES) == pytest.approx((3.0 + 27.25) / 2)  # two tasks: median = mean of the two
    # 8 scores sorted 0 1 2 3 4 5 6 100: trimming 2 each side leaves 2 3 4 5
    assert agg.iqm(SCORES) == pytest.approx(3.5)
    assert agg.optimality_gap(np.array([[0.5, 1.5], [1.0, 0.0]]), gamma=1.0) == pytest.approx(1.0 - (0.5 + 1 + 1 + 0) / 4)


def test_probability_of_improvement_by_hand():
    x = np.array([[3.0], [4.0]])
    y = np.array([[1.0], [3.0]])
    # pairs (x, y): (3,1) win, (3,3) tie, (4,1) win, (4,3) win -> (3 + 0.5) / 4
    assert agg.probability_of_improvement(x, y) == pytest.approx(0.875)
    assert agg.probability_of_improvement(x, x) == 0.5
    assert agg.probability_of_improvement(y, x) == pytest.approx(0.125)


def test_stratified_bootstrap_resamples_within_tasks():
    x = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])
    lo, hi = agg.stratified_bootstrap_ci(x, agg.mean, reps=500, seed=1)
    # each bootstrap mean is (mean of 3 draws from task 0 + mean of 3 draws from task 1) / 2 in [5, 7]
    assert 5.0 <= lo <= 6.0 <= hi <= 7.0
    assert agg.stratified_bootstrap_ci(np.ones((5, 3)), agg.iqm) == (1.0, 1.0)


def test_performance_profile_counts_scores_above_tau():
    profile, band = agg.performance_profile(SCORES, np.array([-1.0, 2.5, 200.0]), reps=200)
    np.testing.assert_allclose(profile, [1.0, 5 / 8, 0.0])
    assert band.shape == (2, 3) and np.all(band[0] <= profile + 1e-12) and np.all(profile <= band[1] + 1e-12)
    mean_profile, _ = agg.performance_profile(SCORES, np.array([3.5]), use_score_distribution=False, reps=10)
    np.testing.assert_allclose(mean_profile, [0.5])  # task means 3.0 and 27.25


def test_agrees_with_rliable_on_the_same_arrays():
    metrics = pytest.importorskip("rliable.metrics")
    library = pytest.importorskip("rliable.library")
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.5, size=(10, 4)), rng.normal(0.8, 0.5, size=(10, 4))
    assert agg.iqm(a) == pytest.approx(metrics.aggregate_iqm(a))
    assert agg.mean(a) == pytest.approx(metrics.aggregate_mean(a))
    assert agg.median(a) == pytest.approx(metrics.aggregate_median(a))
    assert agg.optimality_gap(a) == pytest.approx(metrics.aggregate_optimality_gap(a))
    assert agg.probability_of_improvement(a, b) == pytest.approx(metrics.probability_of_improvement(a, b))
    _, ci = library.get_interval_estimates({"a": a}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=4000,
                                           random_state=np.random.RandomState(0))
    lo, hi = agg.stratified_bootstrap_ci(a, agg.iqm, reps=4000, seed=0)
    assert lo == pytest.approx(ci["a"][0, 0], abs=0.03) and hi == pytest.approx(ci["a"][1, 0], abs=0.03)
    taus = np.linspace(0, 2, 9)
    profiles, _ = library.create_performance_profile({"a": a}, taus, reps=100)
    np.testing.assert_allclose(agg.performance_profile(a, taus, reps=10)[0], profiles["a"])
