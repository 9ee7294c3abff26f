"""QMIX/VDN/IQL's EPyMARL options: ``standardise_rewards`` fits the reward scaled by running
statistics of every collected step, and ``bootstrap_truncation: false`` ends the bootstrap at
time limits (what keeps QMIX's mixer bounded on MPE, issue #18); epsilon anneals over at most
``eps_anneal_max`` steps however long the budget."""

import numpy as np
import pytest

import agents

SPREAD = "mpe/simple_spread-v3"


def _trained(name, **hp):
    agent = agents.make(name, SPREAD, seed=0, n_envs=2, learning_starts=50, **hp)
    agent.learn(100)  # 50 team steps of 2 copies: two 25-step episodes each
    return agent, agent._rollout[2]


@pytest.mark.parametrize("name", ["qmix", "iql"])
def test_reward_statistics_are_those_of_the_fitted_reward(name):
    agent, buf = _trained(name, standardise_rewards=True)
    r, mask = buf.fields["reward"][: len(buf)], buf.fields["mask"][: len(buf)]
    seen = (r * mask).sum(1) if name == "qmix" else r[mask > 0]
    assert agent.reward_stats.mean == pytest.approx(seen.mean(), rel=1e-4)
    assert agent.reward_stats.var == pytest.approx(seen.var(), rel=1e-3)


def test_time_limits_end_the_bootstrap_only_when_asked():
    for bootstrap, ends in ((True, 0), (False, 4)):  # 2 copies x 2 episodes reached the 25-step limit
        agent, buf = _trained("vdn", bootstrap_truncation=bootstrap)
        term = buf.fields["term"][: len(buf)]
        assert int(term.all(axis=1).sum()) == ends
        assert not term[~term.all(axis=1)].any()  # and nothing else ended


@pytest.mark.parametrize("name", ["qmix", "vdn", "iql"])
def test_value_learners_default_to_the_options(name):
    assert agents.make(name, SPREAD).hparams["standardise_rewards"] is True
    assert agents.make(name, SPREAD).hparams["bootstrap_truncation"] is False


def test_the_options_stay_switchable():
    hp = agents.make("iql", SPREAD, standardise_rewards=False, bootstrap_truncation=True).hparams
    assert hp["standardise_rewards"] is False and hp["bootstrap_truncation"] is True


@pytest.mark.parametrize("budget,cap,halfway", [
    (60_000, 50_000, 9_000),  # 0.3 of a short budget is under the cap: the fraction rules
    (1_000_000, 50_000, 25_000),  # a long budget: EPyMARL's 50,000-step anneal
    (1_000_000, None, 150_000),  # no cap: 0.3 of the budget
])
def test_epsilon_anneals_over_the_fraction_of_the_budget_capped(budget, cap, halfway):
    agent = agents.make("vdn", SPREAD, seed=0, n_envs=2, total_steps=budget, eps_anneal_max=cap)
    agent.learn(0)
    eps = agent.explorer.value
    assert eps(halfway / budget) == pytest.approx(0.525)  # halfway from 1.0 to 0.05
    assert eps(2 * halfway / budget) == pytest.approx(0.05) and eps(1.0) == pytest.approx(0.05)
