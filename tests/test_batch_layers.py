"""Every layer type on the batched backend: the same episodes as the Gymnasium-copies face, and
each copy's perturbations independent of N and of its neighbours' resets."""

import json

import gymnasium as gym
import numpy as np
import pytest

import scenarios
from scenarios import UserError
from scenarios.batch import TASKS
from scenarios.layers import LAYERS

HOPPER = "mujoco/Hopper-v5"
SINE = {"kind": "sine", "low": 0.0, "high": 0.3, "period": 20}
WALK = {"kind": "random_walk", "low": 0.0, "high": 0.3, "step_std": 0.05}

CASES = {
    "obs_gaussian_noise": [{"type": "obs_gaussian_noise", "params": {"std": 0.1}}],
    "obs_gaussian_noise@schedule": [{"type": "obs_gaussian_noise", "params": {"std": WALK}}],
    "obs_uniform_noise": [{"type": "obs_uniform_noise", "params": {"half_width": 0.1}}],
    "obs_bias": [{"type": "obs_bias", "params": {"std": 0.2}}],
    "obs_drift": [{"type": "obs_drift", "params": {"rate": 0.05, "max_abs": 0.3}}],
    "obs_dropout": [{"type": "obs_dropout", "params": {"probability": 0.2, "mode": "hold"}}],
    "obs_stuck": [{"type": "obs_stuck", "params": {"probability": 0.05, "duration": 4}}],
    "obs_delay": [{"type": "obs_delay", "params": {"steps": 2, "jitter": 1}}],
    "obs_quantize": [{"type": "obs_quantize", "params": {"step": 0.05}}],
    "obs_distractors": [{"type": "obs_distractors", "params": {"dims": 3, "kind": "random_walk", "std": 0.1}}],
    "action_gaussian_noise": [{"type": "action_gaussian_noise", "params": {"std": SINE}}],
    "action_delay": [{"type": "action_delay", "params": {"steps": 2}}],
    "action_sticky": [{"type": "action_sticky", "params": {"probability": 0.3}}],
    "action_dropout": [{"type": "action_dropout", "params": {"probability": 0.2}}],
    "action_gain": [{"type": "action_gain", "params": {"low": 0.5, "high": 1.5}}],
    "action_saturation": [{"type": "action_saturation", "params": {"fraction": 0.5}}],
    "action_deadband": [{"type": "action_deadband", "params": {"width": 0.3}}],
    "reward_noise": [{"type": "reward_noise", "params": {"std": 0.5}}],
    "reward_delay": [{"type": "reward_delay", "params": {"steps": 3}}],
    "dynamics": [{"type": "dynamics", "params": {"mode": "reset", "parameters": [
        {"field": "body_mass", "low": 0.5, "high": 1.5}, {"field": "geom_friction", "low": 0.5, "high": 1.5, "shared": True}]}}],
    "dynamics@interval": [{"type": "dynamics", "params": {"mode": "interval", "interval": 7, "parameters": [
        {"field": "dof_damping", "low": 0.5, "high": 2.0}, {"field": "gravity", "low": 0.8, "high": 1.2}]}}],
    "push": [{"type": "push", "params": {"body": "torso", "probability": 0.1, "impulse": [1.0, 3.0], "direction": "random"}}],
    "wrench": [{"type": "wrench", "params": {"body": "torso", "force": [5.0, 0.0, 0.0], "scale": SINE}}],
    "safety_cost": [{"type": "safety_cost", "params": {"joint_limit": {"margin": 0.1}, "joint_velocity": {"limit": 3.0},
                                                        "fall": {"body": "torso"}}}],
    "preset": scenarios.get_spec("mujoco/Hopper-hard-v0").model_dump()["layers"],
    "proxy": scenarios.get_spec("sim2real/Hopper-real-v0").model_dump()["layers"],
}
NOT_MUJOCO = {"mpe_dynamics", "multiwalker_dynamics"}  # PettingZoo worlds: refused on MuJoCo sources (tested below)
GOAL_ONLY = {"goal_flatten"}  # goal-conditioned Dict observations only: refused on the batched tasks' Box observations


@pytest.fixture(scope="module")
def adversary(tmp_path_factory):
    """A rarl-shaped checkpoint folder with an untrained adversary (its forces are what matters here)."""
    from stable_baselines3 import PPO

    folder = tmp_path_factory.mktemp("rarl")
    env = gym.make("Hopper-v5")
    space = gym.spaces.Box(-1, 1, (6,), np.float32)

    class Dummy(gym.Env):
        observation_space, action_space = env.observation_space, space

    model = PPO("MlpPolicy", Dummy(), seed=0, device="cpu", policy_kwargs={"log_std_init": 0.0})
    model.save(folder / "adversary.zip")
    (folder / "agent.json").write_text(json.dumps({"hparams": {"adversary_bodies": ["torso", "foot"], "force_scale": 20.0}}))
    return str(folder)


def _spec(layers, time_limit=40):
    return scenarios.get_spec(HOPPER).model_dump() | {"id": "test/Hopper-layered-v0", "layers": layers, "time_limit": time_limit}


def _rollout(spec, backend, n, seed, steps, actions=None):
    vec = scenarios.make(spec).vector(n, seed=seed, backend=backend)
    obs, infos = vec.reset()
    rng = np.random.default_rng(1)
    out = {"obs": [obs["agent_0"].copy()], "rew": [], "flags": [], "layers": [], "episodes": []}
    out["layers"].append([i["agents"]["agent_0"].get("layers") for i in infos])
    for k in range(steps):
        a = rng.uniform(-1, 1, (n, 3)).astype(np.float32) if actions is None else actions[k]
        obs, rew, term, trunc, infos = vec.step({"agent_0": a})
        out["obs"].append(obs["agent_0"].copy())
        out["rew"].append(rew["agent_0"].copy())
        out["flags"].append((term["agent_0"].copy(), trunc["agent_0"].copy()))
        out["layers"].append([(i["agents"]["agent_0"].get("layers"), i["agents"]["agent_0"].get("cost")) for i in infos])
        out["episodes"].append([i.get("episode") for i in infos])
    vec.close()
    return out


def _close(a, b, what, atol=1e-8):
    if isinstance(a, dict) or isinstance(b, dict):
        assert isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys(), what
        for k in a:
            _close(a[k], b[k], f"{what}.{k}", atol)
    elif isinstance(a, (list, tuple)) and a and not isinstance(a[0], (int, float)):
        assert len(a) == len(b), what
        for x, y in zip(a, b):
            _close(x, y, what, atol)
    elif a is None or b is None or isinstance(a, (bool, str)):
        assert a == b, what
    else:
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=atol, rtol=1e-9, err_msg=what)


def _tolerance(case):
    """The adversary is a float32 torch policy: one forward pass for N rows rounds differently from
    N passes of one row (~1e-8 in its forces), which the physics then carries along."""
    return 1e-4 if case == "adversary_forces" else 1e-8


def test_every_mujoco_layer_type_is_covered():
    covered = {layer["type"] for layers in CASES.values() for layer in layers} | {"adversary_forces"} | NOT_MUJOCO | GOAL_ONLY
    assert covered == set(LAYERS)


@pytest.mark.parametrize("case", sorted(CASES) + ["adversary_forces"])
def test_batch_gives_the_gymnasium_faces_episodes(case, adversary):
    layers = CASES.get(case) or [{"type": "adversary_forces", "params": {"checkpoint": adversary}}]
    spec = _spec(layers)
    batched, plain = _rollout(spec, "batch", 3, 5, 120), _rollout(spec, "gymnasium", 3, 5, 120)
    assert sum(e is not None for row in batched["episodes"] for e in row) >= 3  # episodes ended and copies reset
    for key in batched:
        _close(batched[key], plain[key], f"{case}: {key}", _tolerance(case))
    nominal = _rollout(_spec([]), "batch", 3, 5, 120)
    changed = any(not np.allclose(x, y) for x, y in zip(batched["obs"], nominal["obs"]) if x.shape == y.shape)
    changed |= any(not np.allclose(x, y) for x, y in zip(batched["rew"], nominal["rew"]))
    changed |= any(x != y for x, y in zip(batched["layers"], nominal["layers"]))
    assert changed or any(x.shape != y.shape for x, y in zip(batched["obs"], nominal["obs"]))  # the layer did something


@pytest.mark.parametrize("case", sorted(CASES) + ["adversary_forces"])
def test_a_copys_perturbations_do_not_depend_on_n(case, adversary):
    """Copy k of an N = 16 run equals the same copy run alone (its neighbours end and reset at other times)."""
    layers = CASES.get(case) or [{"type": "adversary_forces", "params": {"checkpoint": adversary}}]
    spec, n, steps = _spec(layers, time_limit=30), 16, 70
    rng = np.random.default_rng(2)
    actions = rng.uniform(-1, 1, (steps, n, 3)).astype(np.float32)
    together = _rollout(spec, "batch", n, 100, steps, actions)
    for k in (0, 9, 15):
        alone = _rollout(spec, "batch", 1, 100 + k, steps, actions[:, k : k + 1])
        for key in together:
            rows = [x[k : k + 1] if isinstance(x, np.ndarray) else
                    (x[0][k : k + 1], x[1][k : k + 1]) if isinstance(x, tuple) else x[k : k + 1] for x in together[key]]
            _close(rows, alone[key], f"{case} copy {k}: {key}", _tolerance(case))


def test_per_copy_layers_run_as_sub_stacks():
    """A grid's per-copy layers: copy i gets its own world; copies without extra layers stay nominal."""
    from scenarios.batch import BatchVectorScenario
    from scenarios.spec import LayerSpec

    heavy = [LayerSpec(type="dynamics", params={"mode": "startup", "parameters": [
        {"field": "body_mass", "names": ["torso"], "distribution": "constant", "value": 2.0}]})]
    noisy = [LayerSpec(type="obs_gaussian_noise", params={"std": 0.5})]
    spec = scenarios.get_spec(HOPPER)
    vec = BatchVectorScenario(spec, 4, seed=0, copy_layers=[heavy, [], noisy, heavy])
    obs, infos = vec.reset()
    masses = vec.batch.expand("body_mass")[:, 1]
    assert masses[0] == masses[3] == pytest.approx(2 * masses[1]) and masses[2] == masses[1]
    ref, _ = scenarios.make(HOPPER).vector(4, seed=0).reset()
    np.testing.assert_allclose(obs["agent_0"][[0, 1, 3]], ref["agent_0"][[0, 1, 3]])
    assert np.abs(obs["agent_0"][2] - ref["agent_0"][2]).max() > 0.1
    with pytest.raises(UserError, match="may not change the observation space"):
        BatchVectorScenario(spec, 2, copy_layers=[[LayerSpec(type="obs_distractors", params={"dims": 2})], []])


def test_presets_and_proxies_run_on_the_batch_by_default():
    for sid in ("mujoco/Hopper-medium-v0", "mujoco/HalfCheetah-hard-v0", "mujoco/Ant-easy-v0", "sim2real/Hopper-real-v0"):
        assert scenarios.make(sid).vector(2).backend == "batch", sid


@pytest.mark.parametrize("layer", sorted(NOT_MUJOCO))
def test_particle_world_layers_are_refused_on_mujoco_in_one_line(layer):
    spec = _spec([{"type": layer, "params": {"parameters": [{"field": "mass", "low": 0.5, "high": 1.5}]}}])
    for backend in ("batch", "gymnasium"):
        with pytest.raises(UserError, match=f"layer {layer} needs"):
            scenarios.make(spec).vector(2, backend=backend)


def test_goal_layers_are_refused_on_the_batched_tasks_in_one_line():
    spec = _spec([{"type": "goal_flatten"}])
    for backend in ("batch", "gymnasium"):
        with pytest.raises(UserError, match="layer goal_flatten needs goal-conditioned Dict observations"):
            scenarios.make(spec).vector(2, backend=backend)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_batched_task_gives_the_gymnasium_faces_episodes_with_layers(task):
    """Per-simulation masses (which Humanoid's mass centre reads), pushes (which Ant's and Humanoid's
    contact forces include), and signal layers, on every task the batch runs."""
    import mujoco

    model = gym.make(task).unwrapped.model
    body = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, 1)
    layers = [
        {"type": "dynamics", "params": {"parameters": [{"field": "body_mass", "low": 0.5, "high": 1.5},
                                                        {"field": "geom_friction", "low": 0.5, "high": 1.5, "shared": True}]}},
        {"type": "push", "params": {"body": body, "probability": 0.2, "impulse": [0.5, 2.0], "direction": "random"}},
        {"type": "action_gaussian_noise", "params": {"std": 0.1}},
        {"type": "obs_gaussian_noise", "params": {"std": 0.05}},
    ]
    spec = scenarios.get_spec(f"mujoco/{task}").model_dump() | {"id": "test/layered-v0", "layers": layers, "time_limit": 40}
    dim = scenarios.make(spec).action_space("agent_0").shape[0]
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.4, 0.4, (90, 3, dim)).astype(np.float32)
    batched, plain = _rollout(spec, "batch", 3, 7, 90, actions), _rollout(spec, "gymnasium", 3, 7, 90, actions)
    for key in batched:
        _close(batched[key], plain[key], f"{task}: {key}", 1e-7)


def _multi_rollout(spec, backend, n, seed, steps):
    vec = scenarios.make(spec).vector(n, seed=seed, backend=backend)
    obs, _ = vec.reset()
    rng = np.random.default_rng(3)
    out = [{a: o.copy() for a, o in obs.items()}]
    for _ in range(steps):
        acts = {a: rng.uniform(-0.5, 0.5, (n, *vec.action_spaces[a].shape)).astype(np.float32) for a in vec.agents}
        obs, rew, term, trunc, infos = vec.step(acts)
        out.append(({a: o.copy() for a, o in obs.items()}, {a: r.copy() for a, r in rew.items()},
                    {a: t.copy() for a, t in term.items()}, [i.get("episode") for i in infos],
                    [{a: x.get("layers") for a, x in i.get("agents", {}).items()} for i in infos]))
    vec.close()
    return vec.backend, out


@pytest.mark.parametrize("sid", scenarios.list_ids("mamujoco"))
def test_mamujoco_runs_on_the_batch_with_the_gymnasium_faces_episodes(sid):
    """MaMuJoCo's per-agent observations and actions are its task's, factorized: the batch runs the task
    and splits it, with per-agent layers (noise on one agent only) and per-copy physics."""
    agents_ = scenarios.make(sid).possible_agents
    layers = [
        {"type": "dynamics", "params": {"parameters": [{"field": "body_mass", "low": 0.7, "high": 1.3}]}},
        {"type": "action_gaussian_noise", "params": {"std": 0.1}, "agents": agents_[-1:]},
        {"type": "obs_gaussian_noise", "params": {"std": 0.05}, "agents": agents_[:1]},
    ]
    spec = scenarios.get_spec(sid).model_dump() | {"id": "test/ma-layered-v0", "layers": layers, "time_limit": 30}
    (kb, batched), (kg, plain) = _multi_rollout(spec, "auto", 3, 11, 70), _multi_rollout(spec, "gymnasium", 3, 11, 70)
    assert (kb, kg) == ("batch", "gymnasium")
    _close(batched, plain, sid, 1e-7)


@pytest.mark.parametrize("sid", ["mujoco/Ant-v5", "mujoco/Humanoid-v5", "mamujoco/Ant-2x4-v1"])
def test_interval_mass_redraws_leave_the_steps_reward_as_the_batchs(sid):
    """A mid-episode mass redraw (``set_const``) must not refresh the env's derived fields: Ant's torso
    ``xpos`` and Humanoid's ``xipos`` before the step are as the last ``mj_step`` (RK4's final stage) left
    them, on both faces; a refresh (``mj_forward``) shifted the redraw step's forward reward by ~1e-4.
    Humanoid's control cost squares ``data.ctrl`` (float64), not the float32 action."""
    layers = [{"type": "dynamics", "params": {"mode": "interval", "interval": 7, "parameters": [
        {"field": "body_mass", "low": 0.5, "high": 1.5}]}}]
    spec = scenarios.get_spec(sid).model_dump() | {"id": "test/mass-interval-v0", "layers": layers, "time_limit": 40}
    (_, batched), (_, plain) = _multi_rollout(spec, "batch", 2, 5, 30), _multi_rollout(spec, "gymnasium", 2, 5, 30)
    for k, (b, g) in enumerate(zip(batched[1:], plain[1:]), 1):
        for a in b[1]:
            np.testing.assert_allclose(b[1][a], g[1][a], rtol=0, atol=1e-12, err_msg=f"{sid}: reward of step {k}")
    _close(batched, plain, sid, 1e-12)
    assert any(x[4][0][a] for x in batched[1:] for a in x[4][0])  # redraws were reported at steps 7, 14, ...
