"""Observation attacks, adversarial training and RARL: budgets respected, victims never
updated, PGD beats random noise, records keep attack and eps, layers and CLI."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import agents
import scenarios
import testbed
from agents.adversarial.attacks import ATTACKS, ObservationAttack, calibrate
from scenarios import UserError
from testbed.attack_curve import attack_curve

IP = "mujoco/InvertedPendulum-v5"


@pytest.fixture(scope="module")
def victim(tmp_path_factory):
    ppo = agents.make("ppo", IP, seed=0)
    ppo.learn(20_000)
    return ppo, ppo.save(tmp_path_factory.mktemp("victim") / "ppo")


@pytest.fixture(scope="module")
def wide_std():
    sc = scenarios.make(IP)
    return calibrate(agents.make("random", sc, seed=0), sc)


@pytest.mark.parametrize("kind", ATTACKS)
def test_perturbation_never_exceeds_the_budget(victim, wide_std, kind):
    ppo, _ = victim
    obs = {"agent_0": np.random.default_rng(0).normal(size=(64, 4))}
    for eps in (0.0, 0.1, 1.0):
        d = ObservationAttack(kind, eps, ppo, wide_std, steps=5).delta("agent_0", obs["agent_0"])
        assert np.all(np.abs(d) <= eps * wide_std["agent_0"] + 1e-6)
    d = ObservationAttack(kind, 1.0, ppo, wide_std, steps=5).delta("agent_0", obs["agent_0"])
    assert np.abs(d).max() > 0.5 * wide_std["agent_0"].min()  # the budget is used, not ignored


def test_attacks_never_update_the_victim(victim, wide_std):
    ppo, _ = victim
    before = [p.detach().clone() for p in ppo.model.policy.parameters()]
    flags = [p.requires_grad for p in ppo.model.policy.parameters()]
    grads = [None if p.grad is None else p.grad.clone() for p in ppo.model.policy.parameters()]
    obs = {"agent_0": np.random.default_rng(1).normal(size=(32, 4))}
    for kind in ("fgsm", "pgd", "critic"):
        ObservationAttack(kind, 0.5, ppo, wide_std).perturb(obs)
    after = list(ppo.model.policy.parameters())
    assert all(torch.equal(b, a) for b, a in zip(before, after))
    assert [p.requires_grad for p in after] == flags
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad) for g, p in zip(grads, after))  # no gradient reached them


def test_pgd_hurts_more_than_random_noise_and_records_keep_attack_and_eps(victim, wide_std):
    ppo, _ = victim
    sc = scenarios.make(IP)
    res = {}
    for kind in ("random", "pgd"):
        recs = testbed.evaluate(ppo, sc, episodes=4, seed=5, attack=ObservationAttack(kind, 0.5, ppo, wide_std))
        assert {(r.params["attack"], r.params["eps"]) for r in recs} == {(kind, 0.5)}
        res[kind] = np.mean([r.team_return for r in recs])
    assert res["pgd"] < 0.5 * res["random"], res


def test_attack_curve_shares_episode_seeds_across_eps(victim):
    ppo, _ = victim
    recs = attack_curve(ppo, scenarios.make(IP), "fgsm", [0.0, 0.2], episodes=3, seed=7)
    assert sorted({r.params["eps"] for r in recs}) == [0.0, 0.2]
    assert sorted(r.seed for r in recs if r.params["eps"] == 0.0) == sorted(r.seed for r in recs if r.params["eps"] == 0.2)


def test_planners_and_bad_attacks_are_refused(victim, wide_std):
    ppo, _ = victim
    with pytest.raises(UserError, match="unknown attack"):
        ObservationAttack("cw", 0.1, ppo, wide_std)
    with pytest.raises(UserError, match="eps must be >= 0"):
        ObservationAttack("pgd", -0.1, ppo, wide_std)
    with pytest.raises(UserError, match="nothing to attack"):
        ObservationAttack("pgd", 0.1, agents.make("mppi", IP), wide_std)
    with pytest.raises(UserError, match="needs a value function"):
        bc = agents.make("bc", IP)
        ObservationAttack("critic", 0.1, bc, wide_std)


def test_cli_attack_curve(victim, tmp_path):
    _, path = victim
    db = tmp_path / "r.db"
    base = [sys.executable, "-m", "testbed.cli", "evaluate", str(path), IP, "--episodes", "2", "--db", str(db)]
    ok = subprocess.run([*base, "--attack", "pgd", "--eps", "0,0.1", "--attack-steps", "3"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert sorted({r.params["eps"] for r in testbed.ResultsStore(db).records()}) == [0.0, 0.1]
    bad = subprocess.run([*base, "--attack", "pgd", "--eps", "a,b"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--eps expects comma-separated numbers" in bad.stderr
    assert testbed.ResultsStore(db).count() == 4  # nothing stored was lost


def test_adversarially_trained_ppo_learns():
    rnd = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", IP, seed=0), episodes=5, seed=3)])
    ag = agents.make("adv_ppo", IP, seed=0, attack_eps=0.1, attack_steps=3)
    ag.learn(20_000)
    assert np.mean([r.team_return for r in testbed.evaluate(ag, episodes=5, seed=3)]) > 10 * rnd


def test_rarl_players_take_ppos_tuned_settings_unless_overridden():
    from agents.hyperparams import tuned_defaults

    for sid, body in (("mujoco/Hopper-v5", "torso"), (IP, "pole")):
        ppo = tuned_defaults("ppo", sid)
        h = agents.make("rarl", sid, seed=0, adversary_bodies=[body]).hparams
        assert {k: h[k] for k in ("n_envs", "n_steps", "batch_size", "learning_rate", "gamma")} == \
            {k: ppo[k] for k in ("n_envs", "n_steps", "batch_size", "learning_rate", "gamma")}
    assert agents.make("rarl", IP, seed=0, adversary_bodies=["pole"], n_steps=64).hparams["n_steps"] == 64


def test_rarl_learns_and_its_adversary_is_a_layer(tmp_path):
    rnd = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", IP, seed=0), episodes=5, seed=3)])
    ag = agents.make("rarl", IP, seed=0, adversary_bodies=["pole"], force_scale=0.5, rounds=4, n_steps=256)
    ag.learn(20_000)
    assert np.mean([r.team_return for r in testbed.evaluate(ag, episodes=5, seed=3)]) > 10 * rnd
    path = ag.save(tmp_path / "rarl")
    spec = {"id": "mujoco/IP-adv-v5", "source": "gymnasium:InvertedPendulum-v5",
            "layers": [{"type": "adversary_forces", "params": {"checkpoint": str(path)}}]}
    sc = scenarios.make(spec)
    obs, _ = sc.reset(seed=0)
    _, _, _, _, infos = sc.step({"agent_0": np.zeros(1, np.float32)})
    force = infos["agent_0"]["layers"]["adversary.pole"]
    assert 0 < np.abs(force).max() <= 0.5 + 1e-9
    with pytest.raises(UserError, match="not a rarl checkpoint"):
        scenarios.make({**spec, "layers": [{"type": "adversary_forces", "params": {"checkpoint": str(tmp_path)}}]})
