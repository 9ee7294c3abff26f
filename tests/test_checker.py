"""Every registered scenario passes the API checkers, the autoreset contract and determinism."""

import pytest

import scenarios
from scenarios.checker import check_scenario
from tests.registry_params import registry_params


@pytest.mark.parametrize("scenario_id", registry_params(scenarios.list_ids()))
def test_registered_scenario_passes_all_checks(scenario_id):
    results = check_scenario(scenario_id, cycles=60)
    failed = [(r.name, r.detail) for r in results if r.passed is False]
    assert failed == []
    single = scenarios.make(scenario_id).num_agents == 1
    assert (results[0].passed is True) == single  # check_env runs exactly on one-agent scenarios


def test_checker_catches_nondeterminism(monkeypatch):
    import numpy as np

    from scenarios.sources.matrix_games import MatrixGame

    original = MatrixGame.step
    rng = np.random.default_rng()  # unseeded: differs between the two checker runs

    def noisy(self, actions):
        obs, rew, term, trunc, info = original(self, actions)
        return obs, {a: r + rng.normal() for a, r in rew.items()}, term, trunc, info

    monkeypatch.setattr(MatrixGame, "step", noisy)
    results = {r.name: r for r in check_scenario("matrix/stag_hunt-v0", cycles=20)}
    assert results["determinism"].passed is False
