"""Saved at step k with its training state, loaded and trained on, an agent equals the run that was
never interrupted: ``agents.save(agent, path, training_state=True)`` then ``agents.load(path,
resume=True).learn(k)`` against ``learn(2k)`` with the same seed, for every agent that learns (the
whole training state compared: networks, optimizers, buffers, generators; and the actions).
Also: building or running one agent leaves the process-wide random generators, and so every other
agent, untouched."""

import random

import numpy as np
import pytest
import torch

import agents
import scenarios
from agents import training_state
from scenarios import UserError
from test_continuation import CASES, SLOW, _acts

IP, CP, PEND, CLIMB, LAKE = ("mujoco/InvertedPendulum-v5", "classic/CartPole-v1", "classic/Pendulum-v1",
                             "matrix/climbing-v0", "toytext/FrozenLake-v1")
DEMOS = "DEMOS"  # replaced by the demonstrations file of the ``demos`` fixture
MORE = {  # agents that the two-calls test does not cover
    "gail": (IP, 128, {"n_envs": 2, "n_steps": 64, "batch_size": 64, "dataset": DEMOS}),
    "airl": (IP, 128, {"n_envs": 2, "n_steps": 64, "batch_size": 64, "dataset": DEMOS}),
    "bc": (IP, 64, {"dataset": DEMOS, "epochs": 1}),
    "fast_ppo": (CP, 256, {"n_envs": 2, "n_steps": 64, "batch_size": 64}),
    "fast_sac": (PEND, 150, {"n_envs": 2, "learning_starts": 100}),
    "dueling_dqn": (CP, 600, {"learning_starts": 100, "n_envs": 2}),
    "iql": (CLIMB, 200, {"learning_starts": 50}),
    "jal": (CLIMB, 200, {}),
    "tabular_iql": (CLIMB, 200, {}),
    "q_learning": (LAKE, 480, {}),
    "sarsa": (LAKE, 480, {}),
    "reinforce": (CP, 600, {"steps_per_update": 200}),
    "value_iteration": (LAKE, 10, {}),
    "policy_iteration": (LAKE, 10, {}),
}
ALL = {**CASES, **MORE}
NOT_COMPARED = (
    "_t0", "ep_info_buffer", "start_time", "_start_time", "time_elapsed",  # wall-clock readings
    "_num_timesteps_at_start",  # SB3's per-call bookkeeping (its frames-per-second log)
    "/template/",  # a batch's template scenario: built for its spaces, never stepped
)
UNUSED = "/attrs/scenario/attrs/source/"  # the agent's own scenario: agents train on copies built from it
# (mpe2 draws its construction-time world from fresh entropy; neither it nor this one is ever stepped)


def _compared(path):
    if any(w in path for w in NOT_COMPARED) or path.startswith(UNUSED):
        return False
    # a particle batch's ``world``: the template's mpe2 world it reads shapes from (its copies are arrays)
    if "/attrs/world/" in path and "/source/" not in path:
        return False
    # spaces' own generators draw only for whoever samples the space; one space object is shared by
    # model, buffer and the first copy in one process and is three objects after a load (where such
    # samples matter, SB3's random warm-up actions, they reach the buffers and weights compared here)
    return "_space/attrs/_np_random" not in path and "_spaces/dict" not in path or "_np_random" not in path


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    from agents.imitation import dataset

    out = tmp_path_factory.mktemp("demos") / "demos.npz"
    return str(dataset.record(agents.make("random", IP, seed=0), episodes=3, seed=0).save(out))


def _state(agent):
    """Every array and number of the agent's training state by path (wall-clock readings left out);
    an object met twice (saved once, then as a reference) is listed under both paths."""
    tree, arrays = training_state.capture(agent)
    out, where, refs = {}, {}, []

    def walk(node, path, cap):
        if isinstance(node, dict):
            where[cap] = path
            if "ref" in node:
                refs.append((path, node["ref"]))
            for k, v in node.items():
                if k in ("np", "nd", "t", "tgen") and isinstance(v, str):
                    out[path] = arrays[v]
                elif k == "legacy":
                    out[path] = arrays[v[1]]
                elif k == "attrs":
                    for name, child in v.items():
                        walk(child, f"{path}/attrs/{name}", f"{cap}.{name}")
                elif k == "dict":
                    for i, (key, child) in enumerate(v):
                        walk(key, f"{path}/dict[{i}][0]", None)
                        key = tuple(key[1]) if key[0] == "tuple" else key[1]
                        walk(child, f"{path}/dict[{i}][1]", f"{cap}[{key!r}]")
                elif k == "list":
                    for i, child in enumerate(v):
                        walk(child, f"{path}/list[{i}]", f"{cap}[{i}]")
                elif k == "opt":
                    walk(v, f"{path}/opt", f"{cap}.state_dict")
                elif k not in ("ref", "kind", "maxlen", "obj"):
                    walk(v, f"{path}/{k}", None)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]", None)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            out[path] = node

    walk(tree, "", "agent")
    for path, target in refs:
        base = where.get(target)
        if base is not None:
            out.update({path + k[len(base):]: v for k, v in list(out.items()) if k.startswith(base + "/")})
    return {k: v for k, v in out.items() if _compared(k)}


def _case(name, demos):
    sid, steps, hp = ALL[name]
    hp = {k: demos if v == DEMOS else v for k, v in hp.items()}
    if "total_steps" in agents.agent_class(name).valid_hyperparameters():
        hp["total_steps"] = 2 * steps
    return scenarios.make(sid), steps, hp


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(ALL)])
def test_saved_loaded_and_trained_on_equals_the_uninterrupted_run(name, demos, tmp_path):
    sc, steps, hp = _case(name, demos)
    whole = agents.make(name, sc, seed=3, **hp)
    whole.learn(2 * steps)
    split = agents.make(name, sc, seed=3, **hp)
    split.learn(steps)
    agents.save(split, tmp_path / "ckpt", training_state=True)
    if agents.agent_class(name).capabilities.learning == "model":  # solved to tolerance: nothing to go on with
        split, whole = _state(split), None
    resumed = agents.load(tmp_path / "ckpt", sc, resume=True)
    if whole is None:
        a, b = _state(resumed), split
        assert not [k for k in b if k not in a or not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
        return
    resumed.learn(steps)
    a, b = _state(resumed), _state(whole)
    if name == "impala":  # Ray's start-up (once per learn call) draws names from Python's random module
        a, b = ({k: v for k, v in x.items() if "python_state" not in k} for x in (a, b))
    differ = [k for k in b if k not in a or not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
    assert not differ, f"{name}: {len(differ)} parts of the training state differ, e.g. {differ[:3]}"
    x, y = _acts(resumed, sc), _acts(whole, sc)
    assert all(np.array_equal(x[k], y[k]) for k in x)


def test_the_comparison_can_fail_a_plain_load_does_not_resume(tmp_path):
    sc, steps, hp = _case("dqn", None)
    whole = agents.make("dqn", sc, seed=3, **hp)
    whole.learn(2 * steps)
    split = agents.make("dqn", sc, seed=3, **hp)
    split.learn(steps)
    agents.save(split, tmp_path / "ckpt")  # weights only: replay, environments, optimizer start afresh
    plain = agents.load(tmp_path / "ckpt", sc)
    plain.learn(steps)
    a, b = _state(plain), _state(whole)
    assert [k for k in b if k not in a or not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]


def test_resume_needs_a_saved_training_state(tmp_path):
    agent = agents.make("dqn", CP, seed=0, learning_starts=10)
    agent.learn(20)
    agents.save(agent, tmp_path / "ckpt")
    with pytest.raises(UserError, match="no training state"):
        agents.load(tmp_path / "ckpt", resume=True)


def test_the_training_state_is_data(tmp_path, monkeypatch):
    import pickle

    agent = agents.make("rainbow", CP, seed=0, learning_starts=50)
    agent.learn(100)
    agents.save(agent, tmp_path / "ckpt", training_state=True)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    agents.load(tmp_path / "ckpt", resume=True).learn(50)


def _globals():
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


@pytest.mark.parametrize("name, sid, hp", [
    ("ppo", CP, {"n_envs": 2, "n_steps": 64, "batch_size": 64}),  # SB3 seeds and samples from the globals
    ("dqn", CP, {"learning_starts": 50}),
    ("rainbow", CP, {"learning_starts": 50}),
    ("mappo", "mpe/simple_spread-v3", {"n_envs": 2, "n_steps": 50}),
    ("fast_ppo", CP, {"n_envs": 2, "n_steps": 64, "batch_size": 64}),
])
def test_an_agent_leaves_the_global_generators_and_other_agents_alone(name, sid, hp):
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = _globals()
    alone = agents.make(name, sid, seed=1, **hp)
    alone.learn(128)
    after = _globals()
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1]) and before[2] == after[2]
    first = agents.make(name, sid, seed=1, **hp)
    other = agents.make(name, sid, seed=2, **hp)  # built and trained in between: must not change ``first``
    other.learn(64)
    torch.manual_seed(999)  # the caller's own use of the globals
    first.learn(128)
    a, b = _state(first), _state(alone)
    assert all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in b)


@pytest.mark.slow  # 27 s; the Python resume of every agent stays in the default run
def test_cli_trains_on_from_a_checkpoint_and_refuses_what_does_not_fit(tmp_path):
    from test_cli import assert_user_error, run

    # whole collection chunks (dqn's CartPole entry trains every 256 steps; SB3 rounds a call up to them)
    base = ["train", "dqn", CP, "--set", "learning_starts=200", "--set", "total_steps=1024", "--set", "gradient_steps=8"]
    assert run(*base, "--steps", "512", "--out", str(tmp_path / "half"), "--training-state").returncode == 0
    done = run("train", "dqn", CP, "--steps", "512", "--resume", str(tmp_path / "half"), "--out", str(tmp_path / "more"))
    assert done.returncode == 0, done.stderr
    assert run(*base, "--steps", "1024", "--out", str(tmp_path / "whole")).returncode == 0
    a, b = agents.load(tmp_path / "more"), agents.load(tmp_path / "whole")
    assert all(torch.equal(x, y) for x, y in zip(a.model.policy.parameters(), b.model.policy.parameters()))
    assert_user_error(run("train", "ppo", CP, "--resume", str(tmp_path / "half"), "--out", str(tmp_path / "x")),
                      "holds a dqn checkpoint, not ppo")
    assert_user_error(run("train", "dqn", "classic/Acrobot-v1", "--resume", str(tmp_path / "half"), "--out", str(tmp_path / "x")),
                      "was trained on classic/CartPole-v1")
    assert_user_error(run("train", "dqn", CP, "--resume", str(tmp_path / "whole"), "--out", str(tmp_path / "x")),
                      "no training state")
    assert_user_error(run("train", "dqn", CP, "--resume", str(tmp_path / "half"), "--set", "gamma=0.9", "--out", str(tmp_path / "x")),
                      "own hyperparameters")
    assert not (tmp_path / "x").exists()


NOTHING_TO_LEARN = sorted(n for n in agents.list_names() if not agents.agent_class(n).capabilities.needs_training)


def test_every_registered_agent_is_covered():
    assert set(agents.list_names()) == set(ALL) | set(NOTHING_TO_LEARN)


@pytest.mark.parametrize("name", NOTHING_TO_LEARN)
def test_an_agent_with_nothing_to_learn_resumes_to_the_same_actions(name, tmp_path):
    import testbed
    from test_agents_catalog import _tiny

    sc, _, hp = _tiny(name) if name != "random" else (scenarios.make(CP), 0, {})
    agent = agents.make(name, sc, seed=3, **hp)
    agent.learn(0)
    agents.save(agent, tmp_path / "ckpt", training_state=True)
    resumed = agents.load(tmp_path / "ckpt", resume=True)  # its own scenario (random seeds the spaces it holds)
    if agent.capabilities.needs_state:  # planners act through the harness, which hands them the simulator
        a, b = ([r.team_return for r in testbed.evaluate(x, sc, episodes=1, seed=5)] for x in (agent, resumed))
        assert a == b
        return
    obs, _ = sc.vector(2, seed=11).reset()
    a, b = agent.act(obs, deterministic=False), resumed.act(obs, deterministic=False)  # their generators too
    assert all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


NOISY_SPREAD = {"id": "local/spread-noisy-v0", "source": "pettingzoo:mpe2.simple_spread_v3", "time_limit": 25,
                "setting": "cooperative", "layers": [{"type": "obs_gaussian_noise", "params": {"std": 0.1}},
                                                     {"type": "action_dropout", "params": {"probability": 0.1}}]}


@pytest.mark.parametrize("name, sid, hp", [
    # the batched MuJoCo backend with contacts (the solver's warm start is state) and a preset's layers
    # (dynamics rows per simulation, blocks of pre-drawn noise created on the first draw)
    ("fast_ppo", "mujoco/Hopper-medium-v0", {"n_envs": 2, "n_steps": 64, "batch_size": 64, "total_steps": 256}),
    pytest.param("sac", "mujoco/Hopper-v5", {"learning_starts": 50, "total_steps": 200}, marks=pytest.mark.slow),
    # batched tasks reading derived fields (xpos, xipos): Reacher's observation, Ant's and Humanoid's
    # reward (their position before the step), which MuJoCo's state does not hold
    ("fast_ppo", "mujoco/Reacher-v5", {"n_envs": 2, "n_steps": 16, "batch_size": 8, "total_steps": 128}),
    ("fast_ppo", "mujoco/Ant-v5", {"n_envs": 2, "n_steps": 16, "batch_size": 8, "total_steps": 128}),
    pytest.param("fast_ppo", "mujoco/Humanoid-v5", {"n_envs": 2, "n_steps": 16, "batch_size": 8, "total_steps": 128},
                 marks=pytest.mark.slow),
    pytest.param("fast_ppo", "mujoco/Pusher-v5", {"n_envs": 2, "n_steps": 16, "batch_size": 8, "total_steps": 128},
                 marks=pytest.mark.slow),
    # Gymnasium's MuJoCo envs: MjData's integration state, and the model's fields, masses and the
    # constants mj_setConst derives from them (a dynamics layer changes both mid-run)
    ("ppo", "mujoco/Hopper-medium-v0", {"n_envs": 2, "n_steps": 64, "batch_size": 64, "total_steps": 256,
                                        "backend": "gymnasium"}),
    # particle worlds with per-copy layers, MaMuJoCo, goal-conditioned robotics with HER, a maze
    ("qmix", NOISY_SPREAD, {"n_envs": 2, "learning_starts": 50, "total_steps": 200}),
    pytest.param("mappo", "mamujoco/HalfCheetah-2x3-v1", {"n_envs": 2, "n_steps": 50},
                 marks=pytest.mark.slow),
    pytest.param("sac", "robotics/FetchReach-medium-v0", {"learning_starts": 50, "total_steps": 200, "her": True},
                 marks=pytest.mark.slow),
    pytest.param("ppo", "robotics/PointMaze_UMaze-easy-v0", {"n_envs": 2, "n_steps": 64, "batch_size": 64,
                                                             "total_steps": 256}, marks=pytest.mark.slow),
    # a Gymnasium-face MuJoCo env reading derived fields after mj_step (Fetch's mocap reads the gripper
    # body's xpos/xquat, its observation site_xpos and velocities), which describe the state before the
    # last substep and are not in MuJoCo's state; saved at step 75, mid-episode (50-step episodes: at an
    # episode's end the reset's mj_forward would hide the difference)
    ("fast_sac", "robotics/FetchReach-v4", {"learning_starts": 50, "total_steps": 150, "her": True}),
    # the same on Gymnasium's own MuJoCo envs: Ant reads its torso's xpos before the step
    ("ppo", "mujoco/Ant-v5", {"n_envs": 2, "n_steps": 16, "batch_size": 8, "total_steps": 128, "backend": "gymnasium"}),
])
def test_resume_is_exact_across_scenario_families(name, sid, hp, tmp_path):
    sc, half = scenarios.make(sid), hp.get("total_steps", 200) // 2  # (mappo's schedules are constant)
    whole = agents.make(name, sc, seed=1, **hp)
    whole.learn(2 * half)
    split = agents.make(name, sc, seed=1, **hp)
    split.learn(half)
    agents.save(split, tmp_path / "ckpt", training_state=True)
    resumed = agents.load(tmp_path / "ckpt", sc, resume=True)
    resumed.learn(half)
    a, b = _state(resumed), _state(whole)
    assert not [k for k in b if k not in a or not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]


def test_a_box2d_world_is_refused_in_one_line_before_anything_is_written(tmp_path):
    """SISL's multiwalker runs on Box2D, whose SWIG objects have no ``__module__`` (the state walk
    crashed with AttributeError) and no API to save a simulation: refused, naming where, and the
    checkpoint folder is not started (the CLI refuses before training)."""
    agent = agents.make("maddpg", "sisl/multiwalker-v9", seed=0, n_envs=1, learning_starts=50, buffer_size=1000,
                        batch_size=32)
    agent.learn(20)
    with pytest.raises(UserError, match=r"^the training state cannot be saved: .*world is a Box2D simulation") as e:
        agents.save(agent, tmp_path / "ck", training_state=True)
    assert "\n" not in str(e.value) and not (tmp_path / "ck").exists()
    agents.save(agent, tmp_path / "weights")  # without the training state it saves
    assert agents.load(tmp_path / "weights").act is not None


@pytest.mark.parametrize("name,task,hp", [
    ("double_dqn", "classic/CartPole-v1", {"learning_rate": "lin_1e-3", "learning_starts": 50}),
    ("fast_ppo", "classic/CartPole-v1", {"learning_rate": "lin_1e-3", "n_envs": 2, "n_steps": 32, "batch_size": 32}),
    ("ppo", "classic/CartPole-v1", {"learning_rate": "lin_1e-3", "n_envs": 2, "n_steps": 32, "batch_size": 32}),
    ("qmix", "mpe/simple_spread-v3", {"learning_rate": "lin_1e-3", "n_envs": 2, "learning_starts": 50})])
def test_learn_zero_first_leaves_the_training_as_without_it(name, task, hp):
    """The training state after ``learn(0); learn(256)`` equals that after ``learn(256)``: a zero budget
    declared by the first call once froze the learning-rate and exploration schedules at their ends."""
    def run(first_zero):
        ag = agents.make(name, task, seed=1, **hp)
        if first_zero:
            ag.learn(0)
        ag.learn(256)
        return _state(ag)

    a, b = run(True), run(False)
    assert a.keys() == b.keys() and not [k for k in b if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
