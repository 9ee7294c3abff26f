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

from cli_inprocess import run_inprocess

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
    sc = scenarios.make(IP)
    obs = {"agent_0": np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)}
    sarsa = None
    for eps in (0.0, 0.1, 1.0):
        attack = ObservationAttack(kind, eps, ppo, wide_std, steps=5, train_steps=1000, sarsa=sarsa).fit(sc)
        sarsa = attack.sarsa
        d = attack.perturb(obs)["agent_0"] - obs["agent_0"]
        assert np.all(np.abs(d) <= eps * wide_std["agent_0"] + 1e-5)
    assert np.abs(d).max() > 0.5 * wide_std["agent_0"].min()  # the budget is used, not ignored


@pytest.mark.parametrize("kind", ["mad", "robust_sarsa"])
def test_mad_and_robust_sarsa_hurt_more_than_random_noise(victim, wide_std, kind):
    ppo, _ = victim
    sc = scenarios.make(IP)
    res = {}
    for name in ("random", kind):
        attack = ObservationAttack(name, 0.5, ppo, wide_std, train_steps=4000).fit(sc)
        res[name] = np.mean([r.team_return for r in testbed.evaluate(ppo, sc, episodes=4, seed=5, attack=attack)])
    assert res[kind] < 0.5 * res["random"], res


def test_the_learned_adversary_learns_to_topple_the_victim(victim, wide_std):
    ppo, _ = victim
    sc = scenarios.make(IP)
    res = {}
    for steps in (256, 15_000):  # one PPO update (an untrained adversary) vs a trained one
        attack = ObservationAttack("learned", 0.5, ppo, wide_std, train_steps=steps, seed=1).fit(sc)
        res[steps] = np.mean([r.team_return for r in testbed.evaluate(ppo, sc, episodes=4, seed=5, attack=attack)])
    assert res[15_000] < 0.5 * res[256], res


def test_robust_sarsa_fits_the_victims_action_map(victim, wide_std):
    ppo, _ = victim
    from agents.adversarial.attacks import fit_sarsa

    critic = fit_sarsa(ppo, scenarios.make(IP), ["agent_0"], wide_std, steps=800)["agent_0"]
    obs = np.random.default_rng(3).normal(size=(16, 4)).astype(np.float32)
    with torch.no_grad():
        ours = critic.policy_action(torch.as_tensor(obs)).numpy()
    assert np.allclose(ours, ppo.act({"agent_0": obs})["agent_0"], atol=1e-4)  # PPO acts clip(mean): alpha 1, beta 0


def test_attack_all_runs_every_attack_that_applies_and_the_worst_of_them():
    from testbed.attack_summary import worst_of_attacks

    sc = scenarios.make(IP, time_limit=50)
    bc = agents.make("bc", sc, seed=0)  # a differentiable policy without a critic
    skipped = {}
    recs = attack_curve(bc, sc, "all", [0.2], episodes=2, seed=3, steps=2, train_steps=300, skipped=skipped)
    ran = {r.params["attack"] for r in recs}
    assert ran == set(ATTACKS) - {"critic"} and "value function" in skipped["critic"]
    worst = worst_of_attacks(recs)
    by_kind = {k: np.mean([r.team_return for r in recs if r.params["attack"] == k]) for k in ran}
    value, kind = worst[0.2]
    assert value == min(by_kind.values()) and by_kind[kind] == value
    assert {r.seed for r in recs if r.params["attack"] == "mad"} == {r.seed for r in recs if r.params["attack"] == "learned"}


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
    for eps in (-0.1, float("nan"), 1e300):  # 1e300 overflowed the observations: NaN logits, a torch traceback
        with pytest.raises(UserError, match="eps must be a number from 0 to 1e[+]?0?6 observation standard deviations"):
            ObservationAttack("pgd", eps, ppo, wide_std)
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
    bad = run_inprocess(*base[3:], "--attack", "pgd", "--eps", "a,b")
    assert bad.returncode == 2 and "--eps expects comma-separated numbers" in bad.stderr
    from typer.testing import CliRunner

    from testbed.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, [*base[3:], "--attack", "strongest"])
    assert bad.exit_code == 2 and "robust_sarsa, learned, all" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(app, [*base[3:], "--attack", "learned", "--attack-train-steps", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert testbed.ResultsStore(db).count() == 4  # nothing stored was lost


def test_adversarially_trained_ppo_learns():
    rnd = np.mean([r.team_return for r in testbed.evaluate(agents.make("random", IP, seed=0), episodes=5, seed=3)])
    ag = agents.make("adv_ppo", IP, seed=0, attack_eps=0.1, attack_steps=3)
    ag.learn(10_000)  # 98, 177 and 105 for seeds 0-2 (random: ~5)
    assert np.mean([r.team_return for r in testbed.evaluate(ag, episodes=5, seed=3)]) > 10 * rnd


def test_a_null_attack_setting_means_the_default_attack():
    from agents.adversarial.adv_training import ATTACK_DEFAULTS, PerturbedObservations

    ag = agents.make("adv_ppo", IP, seed=0, attack_eps=None, attack_prob=0.25, attack_steps=None, n_envs=2, n_steps=32,
                     batch_size=32)
    ag.learn(64)
    wrapper = ag.ppo.model.get_env()
    while not isinstance(wrapper, PerturbedObservations):
        wrapper = wrapper.venv
    assert (wrapper.eps, wrapper.prob, wrapper.steps) == (ATTACK_DEFAULTS["attack_eps"], 0.25, ATTACK_DEFAULTS["attack_steps"])


def test_rarl_players_take_ppos_tuned_settings_unless_overridden():
    from agents.hyperparams import tuned_defaults

    for sid, body in (("mujoco/Hopper-v5", "torso"), (IP, "pole")):
        ppo = tuned_defaults("ppo", sid)
        h = agents.make("rarl", sid, seed=0, adversary_bodies=[body]).hparams
        assert {k: h[k] for k in ("n_envs", "n_steps", "batch_size", "learning_rate", "gamma")} == \
            {k: ppo[k] for k in ("n_envs", "n_steps", "batch_size", "learning_rate", "gamma")}
    assert agents.make("rarl", IP, seed=0, adversary_bodies=["pole"], n_steps=64).hparams["n_steps"] == 64


def test_rarl_refuses_more_rounds_than_budget_steps_before_training():
    """rounds 10^9 over a budget of 128 steps: rounds of under one step, each player's learn(1) a whole PPO
    rollout, 128 times over (a sweep's hang); one line at the first learn, nothing declared or trained."""
    ag = agents.make("rarl", IP, seed=0, adversary_bodies=["pole"], rounds=10**9, n_envs=1, n_steps=64, batch_size=64)
    with pytest.raises(UserError, match=r"^rarl: rounds 1000000000 is more than the budget of 128 steps, .*"
                                        r"\(valid: rounds <= 128, or a larger budget\)$"):
        ag.learn(128)
    assert ag.hparams["total_steps"] is None and ag.steps_trained == 0


@pytest.mark.slow  # 29 s; RARL's mechanics (alternation, continuation, checkpoints) run in the default tests
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


def test_experiment_spec_attack_all_runs_what_applies_and_notes_the_rest(tmp_path):
    from testbed.experiment_spec import expand, load_experiment
    from testbed.jobs import run_job

    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: a\nagents: [{{name: random}}]\nscenarios: [{{id: test/ip-v0, source: 'gymnasium:InvertedPendulum-v5', time_limit: 30}}]\n"
                    "evaluation: {episodes: 1}\nattacks:\n  - {kind: all, eps: [0.2], train_steps: 256}\n")
    (job,) = expand(load_experiment(spec))
    out = run_job(job, str(tmp_path / "out"))
    assert {r["params"]["attack"] for r in out["records"] if "attack" in r["params"]} == {"random", "learned"}
    assert any("pgd attack" in note and "differentiable policy" in note for note in out["skipped"])
    spec.write_text(spec.read_text().replace("kind: all", "kind: strongest"))
    with pytest.raises(UserError, match="unknown attack 'strongest'.*learned, all"):
        load_experiment(spec)


def test_experiment_spec_refuses_a_named_attack_an_agent_cannot_take_before_any_job(tmp_path):
    """A named attack that cannot apply to an agent of the spec was a note after the job ('skipped'), exit 0."""
    from testbed.experiment_spec import load_experiment

    spec = tmp_path / "s.yaml"
    head = (f"name: a\nagents: [{{name: random}}, {{name: ppo}}]\n"
            f"scenarios: [{{id: test/ip-v0, source: 'gymnasium:InvertedPendulum-v5', time_limit: 30}}]\n")
    spec.write_text(head + "attacks:\n  - {kind: pgd, eps: [0.2]}\n")
    with pytest.raises(UserError, match=r"^experiment a: attack pgd cannot apply to random on test/ip-v0: .*differentiable"
                                        r".*\(restrict it with the attack's 'agents'\)$"):
        load_experiment(spec)
    spec.write_text(head + "attacks:\n  - {kind: pgd, eps: [0.2], agents: [ppo]}\n")
    assert load_experiment(spec).attacks[0].agents == ["ppo"]  # restricted to the agent that takes it: fine
