"""Dynamics, force, safety and particle-world layers measurably change the physics they claim."""

import mujoco
import numpy as np
import pytest

import agents
import scenarios
import testbed
from scenarios import UserError
from scenarios.layers.mujoco_model import find_mujoco
from tests.layer_helpers import with_layers

HC = "mujoco/HalfCheetah-v5"


def dyn(*parameters: dict, mode: str = "reset", **extra) -> dict:
    return {"type": "dynamics", "params": {"mode": mode, "parameters": list(parameters), **extra}}


def model(sc):
    return find_mujoco(sc).model


def test_mass_scales_with_inertia_and_never_compounds():
    nominal = model(scenarios.make(HC))
    bid = mujoco.mj_name2id(nominal, mujoco.mjtObj.mjOBJ_BODY, "torso")
    m0, i0 = nominal.body_mass[bid], nominal.body_inertia[bid].copy()
    sc = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5}))
    m = model(sc)
    ratios = []
    for k in range(1000):
        _, info = sc.reset(seed=k)
        r = m.body_mass[bid] / m0
        ratios.append(r)
        np.testing.assert_allclose(m.body_inertia[bid], i0 * r, rtol=1e-12)
        assert info["agent_0"]["layers"]["body_mass.torso"] == pytest.approx(m.body_mass[bid])
    assert 0.5 <= min(ratios) < 0.51 and 1.49 < max(ratios) <= 1.5  # 1000 resets stay in range: no compounding
    assert m.body_subtreemass[1] == pytest.approx(nominal.body_subtreemass[1] + m.body_mass[bid] - m0)  # mj_setConst ran


def test_removing_the_layer_restores_the_nominal_model():
    nominal = model(scenarios.make(HC)).body_mass.copy()
    sc = with_layers(HC, dyn({"field": "body_mass", "low": 2.0, "high": 3.0}))
    sc.reset(seed=0)
    assert np.all(model(sc).body_mass[1:] > nominal[1:] * 1.9)
    np.testing.assert_array_equal(model(scenarios.make(HC)).body_mass, nominal)
    same = with_layers(HC, dyn({"field": "body_mass", "distribution": "constant", "value": 1.0}))
    same.reset(seed=0)
    np.testing.assert_array_equal(model(same).body_mass, nominal)


def test_values_are_clamped_to_physical_bounds():
    sc = with_layers(HC, dyn({"field": "body_mass", "operation": "add", "distribution": "gaussian", "mean": 0.0, "std": 50.0},
                            {"field": "geom_friction", "operation": "add", "distribution": "gaussian", "mean": 0.0, "std": 5.0}))
    for k in range(50):
        sc.reset(seed=k)
        assert model(sc).body_mass[1:].min() >= 1e-6 and model(sc).geom_friction.min() >= 0.0


def test_every_field_changes_the_model():
    nom = model(scenarios.make(HC))
    layer = dyn(
        {"field": "geom_friction", "names": ["floor"], "component": 1, "distribution": "constant", "value": 2.0},
        {"field": "dof_damping", "names": ["bthigh"], "distribution": "constant", "value": 3.0},
        {"field": "dof_armature", "names": ["bthigh"], "distribution": "constant", "value": 2.0},
        {"field": "dof_frictionloss", "names": ["bthigh"], "operation": "set", "distribution": "constant", "value": 0.7},
        {"field": "actuator_gear", "names": ["bthigh"], "distribution": "constant", "value": 0.5},
        {"field": "actuator_gain", "distribution": "constant", "value": 2.0},
        {"field": "gravity", "distribution": "constant", "value": 0.5},
        {"field": "wind", "component": 0, "operation": "set", "distribution": "constant", "value": 3.0},
        {"field": "viscosity", "operation": "set", "distribution": "constant", "value": 0.1},
        {"field": "density", "operation": "set", "distribution": "constant", "value": 1.2},
        {"field": "geom_size", "names": ["head"], "distribution": "constant", "value": 1.5},
    )
    sc = with_layers(HC, layer)
    sc.reset(seed=0)
    m = model(sc)
    floor = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    head = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "head")
    dof = m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "bthigh")]
    act = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, "bthigh")
    assert m.geom_friction[floor, 1] == pytest.approx(2.0 * nom.geom_friction[floor, 1])
    assert m.geom_friction[floor, 0] == nom.geom_friction[floor, 0]
    assert m.dof_damping[dof] == pytest.approx(3.0 * nom.dof_damping[dof])
    assert m.dof_armature[dof] == pytest.approx(2.0 * nom.dof_armature[dof])
    assert m.dof_frictionloss[dof] == pytest.approx(0.7)
    assert m.actuator_gear[act, 0] == pytest.approx(0.5 * nom.actuator_gear[act, 0])
    np.testing.assert_allclose(m.actuator_gainprm[:, 0], 2.0 * nom.actuator_gainprm[:, 0])
    assert m.opt.gravity[2] == pytest.approx(-9.81 * 0.5)
    assert m.opt.wind[0] == 3.0 and m.opt.viscosity == 0.1 and m.opt.density == 1.2
    np.testing.assert_allclose(m.geom_size[head], 1.5 * nom.geom_size[head])
    assert m.geom_rbound[head] == pytest.approx(1.5 * nom.geom_rbound[head])


def test_heavier_torso_changes_the_trajectory():
    def final_x(factor):
        sc = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "distribution": "constant", "value": factor}))
        sc.reset(seed=3)
        for t in range(100):
            obs, *_ = sc.step({"agent_0": np.sin(0.3 * t + np.arange(6)).astype(np.float32)})
        return find_mujoco(sc).data.qpos[0]

    assert abs(final_x(1.0) - final_x(3.0)) > 0.05


def test_bad_names_and_scales_are_refused_with_the_valid_choices():
    with pytest.raises(UserError, match=r"no body named torsoo in the model \(valid: .*torso"):
        with_layers(HC, dyn({"field": "body_mass", "names": ["torsoo"], "low": 0.5, "high": 1.5}))
    with pytest.raises(UserError, match="a scale must be > 0"):
        with_layers(HC, dyn({"field": "body_mass", "low": 0.0, "high": 1.5}))
    with pytest.raises(UserError, match="unknown field 'mass'"):
        with_layers(HC, dyn({"field": "mass", "low": 0.5, "high": 1.5}))
    with pytest.raises(UserError, match="needs a MuJoCo source"):
        with_layers("classic/CartPole-v1", dyn({"field": "body_mass", "low": 0.5, "high": 1.5}))


def test_log_normal_draws_have_the_stated_median_and_log_std():
    from scenarios.layers.sampling import ParamRange, draw

    spec = ParamRange(field="body_mass", distribution="log_normal", mean=1.3, std=0.2)
    x = draw(spec, np.random.default_rng(0), 200_000)
    assert np.median(x) == pytest.approx(1.3, rel=0.01)
    assert np.log(x).std() == pytest.approx(0.2, rel=0.01)
    sc = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "distribution": "log_normal", "mean": 1.3, "std": 0.0}))
    nominal = scenarios.make(HC).unwrapped.model.body_mass.copy()
    sc.reset(seed=0)
    assert model(sc).body_mass[1] == pytest.approx(1.3 * nominal[1])
    with pytest.raises(UserError, match="log_normal needs a median"):
        with_layers(HC, dyn({"field": "body_mass", "distribution": "log_normal", "mean": 0.0, "std": 0.1}))


def test_boundary_prob_puts_that_share_of_draws_on_the_ends_and_changes_nothing_at_zero():
    from scenarios.layers.sampling import ParamRange, draw

    spec = ParamRange(field="body_mass", low=0.7, high=1.3, boundary_prob=0.4)
    x = draw(spec, np.random.default_rng(0), 100_000)
    assert np.mean(x == 0.7) == pytest.approx(0.2, abs=0.005) and np.mean(x == 1.3) == pytest.approx(0.2, abs=0.005)
    assert x.min() == 0.7 and x.max() == 1.3
    plain = ParamRange(field="body_mass", low=0.7, high=1.3)
    np.testing.assert_array_equal(draw(plain, np.random.default_rng(1), 50), np.random.default_rng(1).uniform(0.7, 1.3, 50))
    sc = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5, "boundary_prob": 1.0}))
    nominal = scenarios.make(HC).unwrapped.model.body_mass[1]
    seen = set()
    for k in range(20):
        sc.reset(seed=k)
        seen.add(round(model(sc).body_mass[1] / nominal, 9))
    assert seen == {0.5, 1.5}
    with pytest.raises(UserError, match="boundary_prob needs a uniform"):
        with_layers(HC, dyn({"field": "body_mass", "distribution": "gaussian", "mean": 1.0, "std": 0.1, "boundary_prob": 0.5}))


def test_modes_startup_and_interval():
    startup = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5}, mode="startup"))
    masses = set()
    for k in range(5):
        startup.reset(seed=k)
        masses.add(float(model(startup).body_mass[1]))
    assert len(masses) == 1
    inter = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5}, mode="interval", interval=10))
    inter.reset(seed=0)
    seen = []
    for t in range(1, 31):
        _, _, _, _, info = inter.step({"agent_0": np.zeros(6, np.float32)})
        seen.append(float(model(inter).body_mass[1]))
        if t % 10 == 0:
            assert info["agent_0"]["layers"]["body_mass.torso"] == seen[-1]
    assert len(set(seen)) == 4  # the reset draw, then new draws at steps 10, 20 and 30


def test_seeded_draws_and_copies_differ():
    spec = scenarios.get_spec(HC).model_dump() | {"layers": [dyn({"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5})]}
    a, b = scenarios.make(spec, seed=9), scenarios.make(spec, seed=9)
    a.reset(), b.reset()
    assert model(a).body_mass[1] == model(b).body_mass[1]
    vec = scenarios.make(spec).vector(3, seed=9, backend="gymnasium")
    vec.reset()
    masses = [float(model(c).body_mass[1]) for c in vec.copies]
    assert len(set(masses)) == 3
    batched = scenarios.make(spec).vector(3, seed=9, backend="batch")
    batched.reset()
    assert [p["body_mass.torso"] for p in batched.params] == masses  # both backends draw the same physics
    np.testing.assert_array_equal(batched.batch.expand("body_mass")[:, 1], masses)


def test_dynamics_on_mamujoco():
    sc = with_layers("mamujoco/HalfCheetah-2x3-v1", dyn({"field": "body_mass", "names": ["torso"], "distribution": "constant", "value": 2.0}))
    sc.reset(seed=0)
    nominal = model(scenarios.make("mamujoco/HalfCheetah-2x3-v1"))
    assert model(sc).body_mass[1] == pytest.approx(2.0 * nominal.body_mass[1])


def _momentum(h):
    mujoco.mj_subtreeVel(h.model, h.data)
    return h.data.subtree_linvel[1] * h.model.body_subtreemass[1]


def test_push_changes_momentum_by_the_impulse():
    zero_g = dyn({"field": "gravity", "operation": "set", "distribution": "constant", "value": 0.0})
    push = {"type": "push", "params": {"body": "torso", "every": 1, "impulse": [3.0, 3.0], "direction": [1, 0, 0]}}
    plain, pushed = with_layers("mujoco/Ant-v5", zero_g), with_layers("mujoco/Ant-v5", zero_g, push)
    plain.reset(seed=0), pushed.reset(seed=0)
    zero = {"agent_0": np.zeros(8, np.float32)}
    plain.step(zero)
    _, _, _, _, info = pushed.step(zero)
    dp = _momentum(find_mujoco(pushed)) - _momentum(find_mujoco(plain))
    np.testing.assert_allclose(dp, [3.0, 0.0, 0.0], atol=0.05)
    assert info["agent_0"]["layers"]["push.torso"] == [3.0, 0.0, 0.0]
    h = find_mujoco(pushed)
    assert not h.data.xfrc_applied.any()  # removed after the step
    total_mass = h.model.body_subtreemass[1]
    assert np.linalg.norm(h.data.subtree_linvel[1] - find_mujoco(plain).data.subtree_linvel[1]) == pytest.approx(3.0 / total_mass, rel=0.02)


def test_wrench_applies_a_persistent_force():
    zero_g = dyn({"field": "gravity", "operation": "set", "distribution": "constant", "value": 0.0})
    wrench = {"type": "wrench", "params": {"body": "torso", "force": [0.0, 4.0, 0.0]}}
    plain, pushed = with_layers("mujoco/Ant-v5", zero_g), with_layers("mujoco/Ant-v5", zero_g, wrench)
    plain.reset(seed=0), pushed.reset(seed=0)
    zero = {"agent_0": np.zeros(8, np.float32)}
    for step in range(1, 4):
        plain.step(zero), pushed.step(zero)
        h = find_mujoco(pushed)
        dt = h.frame_skip * h.model.opt.timestep
        dp = _momentum(h) - _momentum(find_mujoco(plain))
        np.testing.assert_allclose(dp, [0.0, 4.0 * step * dt, 0.0], atol=0.01)


def test_safety_cost_reported_and_summed_by_the_harness():
    sc = with_layers("mujoco/Hopper-v5", {"type": "safety_cost", "params": {"joint_velocity": {"limit": 1e-9}, "fall": {}}})
    sc.reset(seed=0)
    _, _, _, _, info = sc.step({"agent_0": np.ones(3, np.float32)})
    assert info["agent_0"]["costs"]["joint_velocity"] == 1.0 and info["agent_0"]["cost"] >= 1.0
    recs = testbed.evaluate(agents.make("random", sc, seed=0), sc, episodes=3, seed=0)
    for r in recs:
        assert r.cost is not None and r.length <= r.cost <= 2 * r.length
    plain = testbed.evaluate(agents.make("random", "mujoco/Hopper-v5", seed=0), episodes=1, seed=0)
    assert plain[0].cost is None


def test_fall_constraint_detects_a_fall():
    sc = with_layers("mujoco/Hopper-v5", {"type": "safety_cost", "params": {"fall": {"min_height": 1.0}}})
    sc.reset(seed=0)
    costs = []
    while sc.agents:
        _, _, _, _, info = sc.step({"agent_0": np.zeros(3, np.float32)})
        costs.append(info["agent_0"]["costs"]["fall"])
    h = find_mujoco(sc)
    assert costs[0] == 0.0 and costs[-1] == float(h.data.xpos[1, 2] < 1.0)


def test_mpe_dynamics_mass_slows_an_agent():
    def moved(factor):
        layer = {"type": "mpe_dynamics", "params": {"parameters": [
            {"field": "mass", "names": ["agent_0"], "distribution": "constant", "value": factor}]}}
        sc = with_layers("mpe/simple_spread_continuous-v3", layer)
        obs, info = sc.reset(seed=0)
        start = obs["agent_0"][2:4].copy()
        push = np.array([0, 1, 0, 0, 0], np.float32)
        for _ in range(5):
            obs, *_ = sc.step({a: push for a in sc.agents})
        return np.linalg.norm(obs["agent_0"][2:4] - start), info["agent_0"]["layers"]

    light, params = moved(1.0)
    heavy, params = moved(4.0)
    assert params["mass.agent_0"] == 4.0
    assert heavy < 0.5 * light
    with pytest.raises(UserError, match="needs an mpe2 source"):
        with_layers(HC, {"type": "mpe_dynamics", "params": {"parameters": [{"field": "mass", "low": 1, "high": 2}]}})


def test_multiwalker_package_mass():
    layer = {"type": "multiwalker_dynamics", "params": {"parameters": [{"field": "package_mass", "distribution": "constant", "value": 2.0}]}}
    sc = with_layers("sisl/multiwalker-v9", layer)
    base = scenarios.make("sisl/multiwalker-v9")
    base.reset(seed=0)
    for k in range(3):
        _, info = sc.reset(seed=k)
        assert info["walker_0"]["layers"]["package_mass"] == pytest.approx(2.0 * base.source.unwrapped.env.package.mass)


def test_harness_stores_the_sampled_physics():
    sc = with_layers(HC, dyn({"field": "body_mass", "names": ["torso"], "low": 0.5, "high": 1.5}), time_limit=5)
    recs = testbed.evaluate(agents.make("random", sc, seed=0), sc, episodes=4, seed=0)
    masses = [r.params["body_mass.torso"] for r in recs]
    assert len(set(masses)) == 4
