"""Demonstrations and imitation: datasets round-trip and refuse mismatches; BC, DAgger,
GAIL and AIRL improve over random on a tiny budget; per-agent BC on PettingZoo."""

import subprocess
import sys

import numpy as np
import pytest

import agents
import scenarios
import testbed
from agents.imitation import dataset
from scenarios import UserError

from cli_inprocess import run_inprocess

IP = "mujoco/InvertedPendulum-v5"


def mean_return(agent, scenario=None, episodes=10, seed=900):
    return float(np.mean([r.team_return for r in testbed.evaluate(agent, scenario, episodes=episodes, seed=seed)]))


@pytest.fixture(scope="module")
def expert(tmp_path_factory):
    ppo = agents.make("ppo", IP, seed=0)
    ppo.learn(20_000)
    path = ppo.save(tmp_path_factory.mktemp("expert") / "ppo")
    demos = dataset.record(ppo, episodes=10, seed=0, checkpoint=str(path)).save(path.parent / "demos.npz")
    return path, demos


@pytest.fixture(scope="module")
def random_ip():
    return mean_return(agents.make("random", IP, seed=0))


def test_dataset_round_trip_keeps_every_field(expert):
    _, demos = expert
    ds = dataset.load(demos, IP)
    assert ds.episodes == 10 and len(ds.obs["agent_0"]) == ds.steps + ds.episodes  # final observations kept
    again = dataset.load(ds.save(demos.parent / "again.npz"))
    for field in ("obs", "actions", "rewards", "terminations", "truncations"):
        np.testing.assert_array_equal(getattr(ds, field)["agent_0"], getattr(again, field)["agent_0"])
    assert again.expert["agent"] == "ppo" and again.spec["id"] == IP
    np.testing.assert_allclose([sum(r.values()) for r in ds.returns],
                               [ds.rewards["agent_0"][s:s + t].sum() for s, t in zip(np.cumsum([0, *ds.episode_lengths[:-1]]), ds.episode_lengths)])
    o, a, o2, _ = ds.transitions("agent_0")
    np.testing.assert_array_equal(o[1:ds.episode_lengths[0]], o2[:ds.episode_lengths[0] - 1])


def test_mismatched_or_corrupt_datasets_are_refused(expert, tmp_path):
    _, demos = expert
    with pytest.raises(UserError, match="does not fit mujoco/Hopper-v5"):
        dataset.load(demos, "mujoco/Hopper-v5")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a testbed demonstration dataset"):
        dataset.load(bad)
    with pytest.raises(UserError, match="dataset not found"):
        dataset.load(tmp_path / "missing.npz")


def test_minari_export_round_trips(expert, tmp_path):
    import minari

    ds = dataset.load(expert[1])
    dataset.to_minari(ds, "testbed/ip-expert-v0", root=tmp_path)
    first = next(minari.load_dataset("testbed/ip-expert-v0").iterate_episodes())
    t = int(ds.episode_lengths[0])
    np.testing.assert_allclose(first.observations, ds.obs["agent_0"][: t + 1])
    np.testing.assert_allclose(first.actions, ds.actions["agent_0"][:t])


@pytest.mark.parametrize("name,steps,kw", [
    ("bc", 0, {}),
    ("dagger", 4_000, {"rounds": 4}),
    ("gail", 30_000, {}),
    pytest.param("airl", 40_000, {}, marks=pytest.mark.slow),  # 97 at 30k (bar 100), 1000 at 40k, seed 0; 29 s
])
def test_imitation_improves_over_random(expert, random_ip, tmp_path, name, steps, kw):
    path, demos = expert
    extra = {"expert": str(path)} if name == "dagger" else {"dataset": str(demos)}
    ag = agents.make(name, IP, seed=0, **extra, **kw)
    ag.learn(steps)
    score = mean_return(ag)
    assert score > 10 * random_ip and score > 100, (name, score, random_ip)
    loaded = agents.load(ag.save(tmp_path / name))
    obs = {"agent_0": np.random.default_rng(0).normal(size=(5, 4))}
    np.testing.assert_array_equal(ag.act(obs)["agent_0"], loaded.act(obs)["agent_0"])


def test_per_agent_bc_on_pettingzoo():
    sc = scenarios.make("mpe/simple_spread-v3")
    ds = dataset.record(agents.make("spread_heuristic", sc), episodes=60, seed=0)
    path = ds.save(__import__("tempfile").mkdtemp() + "/spread.npz")
    bc = agents.make("bc", sc, seed=0, dataset=str(path), sharing="none", epochs=30)
    assert len(bc.groups) == 3
    bc.learn(0)
    rnd = mean_return(agents.make("random", sc, seed=0), episodes=30)
    assert mean_return(bc, episodes=30) > rnd + 0.2 * abs(rnd)  # random ~ -74, the heuristic ~ -23


def test_dagger_without_an_expert_is_refused():
    with pytest.raises(UserError, match="dagger needs an expert"):
        agents.make("dagger", IP).learn(100)
    with pytest.raises(UserError, match="needs training"):
        agents.make("dagger", IP, expert="ppo").learn(100)


def test_demos_cli_records_and_refuses_overwrite(expert, tmp_path):
    path, _ = expert
    out = tmp_path / "d.npz"
    cmd = [sys.executable, "-m", "testbed.cli", "demos", "record", str(path), IP, "--episodes", "2", "--out", str(out)]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert dataset.load(out).episodes == 2
    again = run_inprocess(*cmd[3:])
    assert again.returncode == 2 and "exists" in again.stderr and dataset.load(out).episodes == 2
