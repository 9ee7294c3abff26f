"""The robotics family: Gymnasium-Robotics' Fetch on MuJoCo 4 (our narrow compatibility shim),
goal-conditioned observations through every face, layers on the sensed part only, success rates."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from scenarios.sources import robotics_compat
from scenarios.sources.gymnasium_source import GymnasiumSource, _register_robotics

_register_robotics()


def test_fetch_builds_resets_and_steps_through_the_source_adapter():
    src = GymnasiumSource("FetchPush-v4", {}, None)
    obs, _ = src.reset(seed=0)
    o = obs["agent_0"]
    assert set(o) == {"observation", "achieved_goal", "desired_goal"} and o["observation"].shape == (25,)
    arm = src.env.unwrapped
    qpos = arm.data.qpos.copy()
    obs, rew, term, trunc, info = src.step({"agent_0": np.array([1.0, 0.0, 0.0, 0.0], np.float32)})
    assert not np.array_equal(arm.data.qpos, qpos)  # the arm moved
    assert "is_success" in info["agent_0"] and rew["agent_0"] in (0.0, -1.0)
    # the robot joints in the observation are the model's (robot_get_obs through the fixed getters)
    slide0 = arm.model.jnt_qposadr[mujoco.mj_name2id(arm.model, mujoco.mjtObj.mjOBJ_JOINT, "robot0:slide0")]
    assert arm._utils.get_joint_qpos(arm.model, arm.data, "robot0:slide0")[0] == arm.data.qpos[slide0]


@pytest.mark.skipif(not robotics_compat.needed(), reason="this MuJoCo's enums compare correctly: nothing to fix")
def test_upstream_fetch_fails_on_this_mujoco_and_the_shim_leaves_upstream_untouched():
    from gymnasium_robotics.envs import robot_env
    from gymnasium_robotics.utils import mujoco_utils

    with pytest.raises(AssertionError):
        gym.make("FetchReach-v4")  # the bug the shim works around, as shipped
    GymnasiumSource("FetchReach-v4", {}, None)
    assert robot_env.mujoco_utils is mujoco_utils  # swapped only while our adapter builds


def test_fixed_helpers_read_and_write_the_joint_entries_upstream_would():
    from gymnasium_robotics.utils import mujoco_utils

    model = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><body><joint name="s" type="slide"/><geom size=".1"/></body>'
        '<body pos="1 0 0"><joint name="h" type="hinge"/><geom size=".1"/></body>'
        '<body pos="0 1 0"><freejoint name="f"/><geom size=".1"/></body></worldbody></mujoco>')
    data = mujoco.MjData(model)
    shim = robotics_compat._shim(mujoco_utils)
    shim.set_joint_qpos(model, data, "h", 0.5)
    shim.set_joint_qvel(model, data, "s", -2.0)
    shim.set_joint_qpos(model, data, "f", np.arange(7.0))  # a free joint goes to upstream as is
    np.testing.assert_array_equal(data.qpos, [0.0, 0.5, 0, 1, 2, 3, 4, 5, 6])
    assert data.qvel[0] == -2.0
    assert shim.get_joint_qpos(model, data, "h").tolist() == [0.5]
    assert shim.get_joint_qvel(model, data, "s").tolist() == [-2.0]
    np.testing.assert_array_equal(shim.get_joint_qpos(model, data, "f"), mujoco_utils.get_joint_qpos(model, data, "f"))


def test_layers_perturb_the_sensed_observation_and_leave_the_goals():
    import scenarios

    spec = {"id": "robotics/FetchPushNoisy-v0", "source": "gymnasium:FetchPush-v4", "time_limit": 50,
            "layers": [{"type": "obs_gaussian_noise", "params": {"std": 0.5}}, {"type": "obs_delay", "params": {"steps": 1}}]}
    clean, noisy = scenarios.make("robotics/FetchPush-v4", seed=1), scenarios.make(spec, seed=1)
    space = noisy.observation_space("agent_0")
    assert isinstance(space, gym.spaces.Dict) and np.isinf(space["observation"].high).all()
    assert space["desired_goal"] == clean.observation_space("agent_0")["desired_goal"]
    (o1, _), (o2, _) = clean.reset(), noisy.reset()
    a = {"agent_0": np.array([0.5, 0.0, 0.0, 0.0], np.float32)}
    o1, *_ = clean.step(a)
    o2, *_ = noisy.step(a)
    for key in ("achieved_goal", "desired_goal"):
        np.testing.assert_array_equal(o1["agent_0"][key], o2["agent_0"][key])
    assert np.abs(o1["agent_0"]["observation"] - o2["agent_0"]["observation"]).max() > 0.1
    # compute_reward stays the source's, batched, for relabelling
    g = o1["agent_0"]["achieved_goal"]
    r = noisy.compute_reward(np.stack([g, g + 1.0]), np.stack([g, g]), [{}, {}])
    assert r.tolist() == [0.0, -1.0]


def test_vectorized_face_batches_each_key_and_reports_success():
    import scenarios

    vec = scenarios.make("robotics/FetchReach-v4").vector(3, seed=0)
    obs, _ = vec.reset()
    assert {k: v.shape for k, v in obs["agent_0"].items()} == {
        "achieved_goal": (3, 3), "desired_goal": (3, 3), "observation": (3, 10)}
    ends = []
    for _ in range(50):
        obs, rew, term, trunc, infos = vec.step({"agent_0": np.zeros((3, 4), np.float32)})
        ends += [info for info in infos if "episode" in info]
    assert len(ends) == 3 and all(e["episode"]["success"] is False for e in ends)  # standing still rarely reaches
    assert set(ends[0]["final_observation"]["agent_0"]) == {"observation", "achieved_goal", "desired_goal"}
    assert obs["agent_0"]["observation"].shape == (3, 10)  # autoreset rows written per key


def test_goal_flatten_gives_learners_one_vector_in_gymnasiums_order():
    import scenarios
    from scenarios.goals import flatten

    spec = {"id": "robotics/PointFlat-v0", "source": "gymnasium:PointMaze_UMaze-v3",
            "layers": [{"type": "obs_gaussian_noise", "params": {"std": 0.1}}, {"type": "goal_flatten"}]}
    sc = scenarios.make(spec, seed=0)
    assert sc.observation_space("agent_0").shape == (8,)
    obs, _ = sc.reset()
    plain = scenarios.make("robotics/PointMaze_UMaze-v3", seed=0)
    ref, _ = plain.reset()
    d = ref["agent_0"]
    np.testing.assert_array_equal(gym.spaces.flatten(plain.observation_space("agent_0"), d)[:4], obs["agent_0"][:4])
    assert not np.allclose(obs["agent_0"][4:], d["observation"])  # the sensed part is noisy, the goals are not
    np.testing.assert_allclose(flatten(plain.observation_space("agent_0"), d), gym.spaces.flatten(plain.observation_space("agent_0"), d))


def test_dynamics_and_pushes_reach_the_fetch_object():
    import scenarios

    sc = scenarios.make("robotics/FetchPush-hard-v0", seed=0)
    _, infos = sc.reset()
    params = infos["agent_0"]["layers"]
    model = sc.unwrapped.model
    obj = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "object0")
    assert model.body_mass[obj] == params["body_mass.object0"] and 0.8 <= params["body_mass.object0"] <= 3.2  # 2 kg x(0.4, 1.6)
    assert model.geom_friction[22, 0] == params["geom_friction.#22"]  # geom 22: the table
    assert params["geom_friction.#22"] == params["geom_friction.object0"]  # one draw for both contact sides
    assert sc.physics.frame_skip == 20  # Fetch's n_substeps: a push's impulse is spread over the step's substeps


def test_success_reaches_records_store_tables_and_grids(tmp_path):
    import agents
    import testbed
    from rich.console import Console

    from testbed.grid import evaluate_grid, parse_axis, robustness
    from testbed.store import ResultsStore
    from testbed.tables import robustness_table, summary_table

    agent = agents.make("random", "robotics/FetchReach-v4", seed=0)
    store = ResultsStore(tmp_path / "r.db")
    recs = testbed.evaluate(agent, episodes=2, seed=0, store=store)
    assert [r.success for r in recs] == [r.success for r in store.records()] and all(r.success in (True, False) for r in recs)
    assert testbed.evaluate(agents.make("random", "classic/CartPole-v1", seed=0), episodes=1)[0].success is None
    console = Console(record=True, width=200)
    console.print(summary_table(recs))
    assert "success [95% CI]" in console.export_text()
    grid = evaluate_grid(agent, agent.scenario, [parse_axis("geom_friction.#22=0.5:2:2")], episodes=2, seed=0, num_envs=2)
    row = robustness(grid)[0]
    assert row.points == 2 and 0.0 <= row.success_worst <= row.success_mean <= 1.0
    console.print(robustness_table(grid))
    assert "success: nominal" in console.export_text()


def test_sac_with_her_relabels_through_compute_reward_and_checkpoints(tmp_path, monkeypatch):
    import agents
    import scenarios
    from stable_baselines3 import HerReplayBuffer

    calls = []
    original = scenarios.Scenario.compute_reward
    monkeypatch.setattr(scenarios.Scenario, "compute_reward", lambda self, *a: calls.append(1) or original(self, *a))
    agent = agents.make("sac", "robotics/FetchReach-v4", seed=0, her=True, n_sampled_goal=2, learning_starts=110,
                        batch_size=16, buffer_size=2000, n_envs=2, normalize=True, policy_kwargs={"net_arch": [16]})
    agent.learn(120)
    assert isinstance(agent.model.replay_buffer, HerReplayBuffer) and calls  # relabelled with the scenario's reward
    assert agent.model.replay_buffer.n_sampled_goal == 2
    obs, _ = scenarios.make("robotics/FetchReach-v4", seed=3).as_gymnasium().reset(seed=3)
    loaded = agents.load(agent.save(tmp_path / "ck"))
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))  # a bare Dict observation, Gymnasium's form
    with pytest.raises(Exception, match="her needs a one-agent goal-conditioned scenario"):
        agents.make("td3", "classic/Pendulum-v1", seed=0, her=True)
    with pytest.raises(Exception, match="goal_flatten"):
        agents.make("reinforce", "robotics/PointMaze_UMaze-v3", seed=0)


def test_the_gymnasium_id_trains_with_sb3s_her_directly():
    from stable_baselines3 import SAC, HerReplayBuffer

    import scenarios  # noqa: F401  (registers the ids)

    env = gym.make("robotics/FetchReach-v4")
    model = SAC("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer, learning_starts=60, batch_size=8,
                buffer_size=500, replay_buffer_kwargs={"n_sampled_goal": 2}, policy_kwargs={"net_arch": [8]}, seed=0)
    model.learn(64)  # relabelling reaches the scenario's compute_reward through the Gymnasium face
    assert model.replay_buffer.size() > 0


def test_dqn_takes_her_on_a_discrete_goal_task():
    import agents
    import scenarios
    from stable_baselines3 import HerReplayBuffer
    from stable_baselines3.common.envs import BitFlippingEnv

    if "BitFlip4-v0" not in gym.registry:
        gym.register("BitFlip4-v0", entry_point=lambda: BitFlippingEnv(n_bits=4, continuous=False, max_steps=4))
    sc = scenarios.make({"id": "tests/BitFlip4-v0", "source": "gymnasium:BitFlip4-v0", "time_limit": 4})
    agent = agents.make("dqn", sc, seed=0, her=True, n_sampled_goal=2, learning_starts=16, batch_size=8,
                        buffer_size=200, n_envs=1, policy_kwargs={"net_arch": [8]})
    agent.learn(40)
    assert isinstance(agent.model.replay_buffer, HerReplayBuffer)


ADROIT = {"Door": ("door", "door_hinge", 2.435), "Hammer": ("Object", "nail_dir", 0.253), "Pen": ("Object", None, 0.182),
          "Relocate": ("Object", None, 0.18)}


@pytest.mark.parametrize("task", sorted(ADROIT))
def test_adroit_presets_perturb_the_object_and_what_resists_the_task(task):
    import scenarios

    body, joint, mass = ADROIT[task]
    nominal = scenarios.make(f"robotics/AdroitHand{task}-v1", seed=0).unwrapped.model
    sc = scenarios.make(f"robotics/AdroitHand{task}-hard-v0", seed=0)
    draws = []
    for seed in range(3):
        _, infos = sc.reset(seed=seed)
        params = infos["agent_0"]["layers"]
        model = sc.unwrapped.model
        b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
        assert model.body_mass[b] == pytest.approx(params[f"body_mass.{body}"])
        assert 0.4 * mass * 0.99 <= model.body_mass[b] <= 1.6 * mass * 1.01  # x(0.4, 1.6) of the nominal mass
        if joint:
            dof = model.jnt_dofadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)]
            ratio = model.dof_frictionloss[dof] / nominal.dof_frictionloss[dof]
            assert 0.4 <= ratio <= 1.6 and model.dof_frictionloss[dof] == pytest.approx(params[f"dof_frictionloss.dof{dof}"])
        draws.append(float(model.body_mass[b]))
    assert len(set(draws)) == 3  # a new draw each episode


def test_a_push_moves_the_adroit_object():
    import scenarios

    def speed(layers):
        spec = {"id": "robotics/RelocatePush-v0", "source": "gymnasium:AdroitHandRelocate-v1", "layers": layers}
        sc = scenarios.make(spec, seed=0)
        sc.reset(seed=0)
        zero = {"agent_0": np.zeros(sc.action_space("agent_0").shape, np.float32)}
        model, d = sc.unwrapped.model, sc.unwrapped.data
        ball = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "Object")
        start = d.xpos[ball].copy()
        for _ in range(5):
            sc.step(zero)
        return float(d.xpos[ball][0] - start[0])

    push = [{"type": "push", "params": {"body": "Object", "probability": 1.0, "impulse": [0.05, 0.05], "direction": [1, 0, 0]}}]
    moved, still = speed(push), speed([])
    assert moved > abs(still) + 0.005, (moved, still)  # pushed along +x every step (0.05 N*s on 0.18 kg)


def _equality_scenarios() -> list[str]:
    """Every registered MuJoCo scenario whose model has equality constraints (the Fetch arms' mocap weld)."""
    import scenarios
    from scenarios.registry import list_ids

    found = []
    for sid in list_ids():
        if sid.split("/")[0] not in ("robotics", "mujoco", "mamujoco", "sim2real") or sid.endswith(("easy-v0", "medium-v0", "hard-v0")):
            continue
        model = getattr(scenarios.make(sid).unwrapped, "model", None)
        if model is not None and model.neq and "Dense" not in sid:  # Dense: the same arm, another reward
            found.append(sid)
    return found


def test_recomputing_mass_constants_keeps_the_equality_constraints():
    """A dynamics layer that scales every mass by 1 changes nothing: mj_setConst alone also
    recomputes the weld's ``eq_data`` (by up to 1.41 on the Fetch arms), which moved the gripper
    off its target (a policy with 0.93 success fell to 0.03), so ``set_const`` keeps ``eq_data``."""
    import scenarios
    from scenarios.registry import get_spec

    ids = _equality_scenarios()
    assert {"robotics/FetchPush-v4", "robotics/FetchReach-v4"} <= set(ids)
    for sid in ids:
        layer = {"type": "dynamics", "params": {"mode": "reset", "parameters": [
            {"field": "body_mass", "distribution": "constant", "value": 1.0}]}}
        spec = {**get_spec(sid).model_dump(), "id": sid.replace("-v", "Mass1-v"), "layers": [layer]}
        runs = []
        for s in (sid, spec):
            sc = scenarios.make(s, seed=0)
            obs, _ = sc.reset(seed=3)
            eq = sc.unwrapped.model.eq_data.copy()
            rng = np.random.default_rng(0)
            trace = [obs["agent_0"]["observation"]]
            for _ in range(10):
                a = rng.uniform(-1, 1, sc.action_space("agent_0").shape).astype(np.float32)
                trace.append(sc.step({"agent_0": a})[0]["agent_0"]["observation"])
            runs.append((eq, np.array(trace)))
        np.testing.assert_array_equal(runs[0][0], runs[1][0], err_msg=sid)
        np.testing.assert_allclose(runs[0][1], runs[1][1], atol=1e-6, err_msg=sid)  # mj_setConst: ~1e-9 noise


def test_the_batched_backend_keeps_the_equality_constraints_too():
    """``mujoco.batch``'s ``set_const`` recomputes the weld as ``mj_setConst`` does; ``BatchPhysics`` keeps it."""
    import scenarios
    from mujoco.batch import Batch

    from scenarios.layers.physics import BatchPhysics

    handle = scenarios.make("robotics/FetchPush-v4").physics.handle
    ph = BatchPhysics(Batch(handle.model, 2, 1, persistent=True), handle)
    ph.expand({"body_mass"})
    ph.set_const(np.array([0, 1]))
    for i in range(2):
        np.testing.assert_array_equal(ph.batch.get_model(i).eq_data, handle.model.eq_data)
