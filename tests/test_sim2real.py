"""Sim2real: the adapter protocol, system identification on a synthetic target, the
transfer gap with CIs, the real proxies' unmodelled effects."""

import numpy as np
import pytest

import agents
import scenarios
from scenarios import UserError
from sim2real.adapter import RealSystem, ScenarioSystem, record
from sim2real.dropo import identify_distribution
from sim2real.sysid import identify
from sim2real.transfer import transfer_gap
from tests.controllers import LinearController


@pytest.fixture(scope="module")
def target_data():
    system = ScenarioSystem("sim2real/Hopper-real-dyn-v0")
    assert isinstance(system, RealSystem)
    return record(system, agents.make("random", "mujoco/Hopper-v5", seed=0), episodes=20, seed=0)


def test_sysid_recovers_hidden_mass_and_friction(target_data):
    res = identify("mujoco/Hopper-v5", target_data, ["body_mass:torso", "friction:*"])
    assert res.scales["body_mass:torso"] == pytest.approx(1.3, rel=0.05)
    assert res.scales["friction:*"] == pytest.approx(0.7, rel=0.05)
    lo, hi = res.ranges()["body_mass:torso"]
    assert lo < 1.3 < hi
    layer = res.dynamics_layer()
    sc = scenarios.make({"id": "mujoco/Hopper-randomized-v5", "source": "gymnasium:Hopper-v5", "layers": [layer]})
    nominal = scenarios.make("mujoco/Hopper-v5").unwrapped.model.body_mass[1]
    for seed in range(5):
        sc.reset(seed=seed)
        assert lo <= sc.params["body_mass.torso"] / nominal <= hi  # training randomizes around the estimate


def test_sysid_finds_the_action_delay():
    system = ScenarioSystem({"id": "mujoco/Hopper-delayed-v5", "source": "gymnasium:Hopper-v5",
                             "layers": [{"type": "action_delay", "params": {"steps": 1}}]})
    data = record(system, agents.make("random", "mujoco/Hopper-v5", seed=1), episodes=10, seed=0)
    res = identify("mujoco/Hopper-v5", data, ["body_mass:torso"], delays=(0, 1, 2))
    assert res.delay == 1 and res.costs_by_delay[1] < 0.5 * min(res.costs_by_delay[0], res.costs_by_delay[2])
    assert res.scales["body_mass:torso"] == pytest.approx(1.0, rel=0.05)


FAST_DROPO = {"samples": 6, "max_evaluations": 100, "max_transitions": 250}


@pytest.mark.slow  # 17 s; DROPO's spread fit stays in the default run
def test_dropo_recovers_a_fixed_target_with_a_narrow_distribution(target_data):
    res = identify_distribution("mujoco/Hopper-v5", target_data, ["body_mass:torso", "friction:*"], **FAST_DROPO)
    assert res.scales["body_mass:torso"] == pytest.approx(1.3, rel=0.05)
    assert res.scales["friction:*"] == pytest.approx(0.7, rel=0.05)
    assert max(res.log_std.values()) < 0.05 and res.noise_std < 0.05  # nothing left to explain as noise
    layer = res.dynamics_layer(distribution="log_normal", min_width=0.01)
    assert layer["params"]["parameters"][0] == {"distribution": "log_normal", "mean": res.scales["body_mass:torso"],
                                                "std": max(res.log_std["body_mass:torso"], 0.01), "shared": True,
                                                "names": ["torso"], "field": "body_mass"}


def test_dropo_fits_the_spread_of_a_randomized_target():
    """Per-episode torso masses log-normal around 1.3 (log-std 0.15): the fit is a distribution, not a point."""
    spread = {"type": "dynamics", "params": {"mode": "reset", "parameters": [
        {"field": "body_mass", "names": ["torso"], "distribution": "log_normal", "mean": 1.3, "std": 0.15}]}}
    system = ScenarioSystem({"id": "mujoco/Hopper-spread-v5", "source": "gymnasium:Hopper-v5", "layers": [spread]})
    data = record(system, agents.make("random", "mujoco/Hopper-v5", seed=2), episodes=20, seed=0)
    res = identify_distribution("mujoco/Hopper-v5", data, ["body_mass:torso"], **{**FAST_DROPO, "max_evaluations": 60})
    assert res.scales["body_mass:torso"] == pytest.approx(1.3, rel=0.1)
    assert 0.07 < res.log_std["body_mass:torso"] < 0.3


def test_sysid_refuses_unknown_parameters_and_tasks(target_data):
    with pytest.raises(UserError, match="no body named torsoo in the model \\(valid: world, torso"):
        identify("mujoco/Hopper-v5", target_data, ["body_mass:torsoo"])
    with pytest.raises(UserError, match="unknown sysid parameter kind"):
        identify("mujoco/Hopper-v5", target_data, ["mass:torso"])
    with pytest.raises(UserError, match="needs a Gymnasium MuJoCo task"):
        identify("classic/CartPole-v1", target_data, ["body_mass:torso"])


def test_transfer_gap_matches_an_independent_computation_on_a_known_gap():
    import testbed

    src = scenarios.make("mujoco/InvertedPendulum-v5", time_limit=200)
    heavy = {"id": "mujoco/IP-heavy-v5", "source": "gymnasium:InvertedPendulum-v5", "time_limit": 200,
             "layers": [{"type": "dynamics", "params": {"parameters": [
                 {"field": "body_mass", "names": ["pole"], "distribution": "uniform", "low": 6.0, "high": 10.0}]}}]}
    ag = LinearController(src, [1.0, 5.0, 1.0, 1.0])  # balances the source, drops a heavy pole
    rep = transfer_gap(ag, heavy, episodes=10, seed=3)
    own = [r.team_return for r in testbed.evaluate(ag, src, episodes=10, seed=3)]
    far = [r.team_return for r in testbed.evaluate(ag, scenarios.make(heavy), episodes=10, seed=3)]
    assert own == [200.0] * 10 and max(far) < 150  # the controller balances the source and drops the heavy pole
    assert rep.source == pytest.approx(np.mean(own)) and rep.target == pytest.approx(np.mean(far))
    assert rep.gap == pytest.approx(np.mean(own) - np.mean(far)) and rep.gap > 100
    assert rep.gap_ci[0] <= rep.gap <= rep.gap_ci[1] and rep.gap_ci[0] > 100  # the CI excludes no gap
    same = transfer_gap(ag, src, episodes=10, seed=3)
    assert same.gap == 0.0 and same.gap_ci == (0.0, 0.0)  # no difference, no interval


def test_real_proxy_has_its_unmodelled_effects():
    sc = scenarios.make("sim2real/Hopper-real-v0")
    types = [layer.type for layer in sc.layers]
    assert {"dynamics", "action_delay", "action_deadband", "obs_gaussian_noise", "obs_bias"} <= set(types)
    deadband = next(layer for layer in sc.layers if layer.type == "action_deadband")
    np.testing.assert_array_equal(deadband.act("agent_0", np.array([[0.01, -0.04, 0.3]], np.float32), np.zeros(1, int))[0],
                                  np.array([0.0, 0.0, 0.3], np.float32))
    system = ScenarioSystem(sc)
    with pytest.raises(UserError, match="does not implement the RealSystem protocol"):
        record(object(), agents.make("random", "mujoco/Hopper-v5"), episodes=1)
    assert system.observation_space.shape == (11,)


def test_adr_widens_ranges_that_perform_and_saves_them(tmp_path):
    ag = agents.make("adr", "mujoco/InvertedPendulum-v5", seed=0, parameters=["body_mass:pole"], t_low=-1.0, t_high=-1.0,
                     chunk=1000, boundary_episodes=2, delta=0.2, n_envs=2, n_steps=250)
    ag.learn(3000)
    assert ag.ranges["body_mass:pole"] == [0.4, 1.6]  # every boundary passed: three exact widenings of 0.2
    loaded = agents.load(ag.save(tmp_path / "adr"))
    assert loaded.ranges == ag.ranges and [row["steps"] for row in loaded.history] == [1000, 2000, 3000]


def test_adr_trains_on_its_boundaries_with_boundary_prob():
    nominal = scenarios.make("mujoco/InvertedPendulum-v5").unwrapped.model.body_mass[2]
    shares = {}
    for prob in (0.0, 0.5):
        ag = agents.make("adr", "mujoco/InvertedPendulum-v5", seed=0, parameters=["body_mass:pole"], initial=[0.8, 1.2],
                         boundary_prob=prob)
        sc = ag.training_scenario()
        scales = np.array([sc.reset(seed=k)[1]["agent_0"]["layers"]["body_mass.pole"] / nominal for k in range(400)])
        assert scales.min() >= 0.8 - 1e-9 and scales.max() <= 1.2 + 1e-9
        shares[prob] = (np.mean(np.isclose(scales, 0.8)), np.mean(np.isclose(scales, 1.2)))
    assert shares[0.0] == (0.0, 0.0)
    assert 0.19 < shares[0.5][0] < 0.31 and 0.19 < shares[0.5][1] < 0.31  # a quarter on each end
    with pytest.raises(UserError, match=r"boundary_prob must be a number in \[0, 1\]"):
        agents.make("adr", "mujoco/InvertedPendulum-v5", parameters=["body_mass:pole"], boundary_prob=1.5)


def test_adr_narrows_ranges_that_fail_but_never_below_the_initial_range():
    ag = agents.make("adr", "mujoco/InvertedPendulum-v5", seed=0, parameters=["body_mass:pole"], initial=[0.9, 1.1],
                     t_low=1e9, t_high=2e9, chunk=1000, boundary_episodes=2, delta=0.2, n_envs=2, n_steps=250)
    ag.learn(2000)
    assert ag.ranges["body_mass:pole"] == pytest.approx([0.9, 1.1])
    with pytest.raises(UserError, match="no body named"):
        agents.make("adr", "mujoco/InvertedPendulum-v5", parameters=["body_mass:torso"])


def test_a_target_given_as_a_yaml_file_finds_its_nominal_base(tmp_path):
    """The loop looked the file's (unregistered) id up in the registry to find the nominal simulator: every
    YAML target without --base ended in 'unknown scenario'."""
    from sim2real.loop import nominal_base
    from scenarios.registry import resolve_spec

    path = tmp_path / "target.yaml"
    path.write_text("id: probe/Walker2d-real-v0\nsource: gymnasium:Walker2d-v5\nlayers:\n- type: dynamics\n  params:\n"
                    "    mode: startup\n    parameters:\n    - {field: body_mass, names: [torso], distribution: constant, value: 1.4}\n")
    assert nominal_base(resolve_spec(str(path))) == "mujoco/Walker2d-v5"
    assert nominal_base("sim2real/Hopper-real-v0") == "mujoco/Hopper-v5"
    from cli_inprocess import run_inprocess

    r = run_inprocess("sim2real", str(path), "--episodes", "1", "--steps", "0", "--agent", "random", "--eval-episodes", "1",
                      "--param", "body_mass:torso", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "body_mass:torso: 1.4" in (tmp_path / "out" / "sim2real.md").read_text()
