"""scenarios.termination against the environments themselves: over random-action rollouts with
resets, every known termination (and reward) function equals the scenario's own ``terminated``
flag (and reward) at every step; every single-agent scenario without one is listed here with why."""

import numpy as np
import pytest
from gymnasium import spaces

import scenarios
from scenarios.termination import reward_function, termination_function

AGENT = "agent_0"
WITH_TERMINATION = {"mujoco/InvertedPendulum-v5", "mujoco/InvertedDoublePendulum-v5", "mujoco/Hopper-v5",
                    "mujoco/Walker2d-v5", "mujoco/Ant-v5", "mujoco/Humanoid-v5", "classic/CartPole-v1",
                    "sim2real/Hopper-real-dyn-v0"}  # a dynamics layer only: the observation still decides
WITH_REWARD = {"mujoco/InvertedPendulum-v5", "classic/CartPole-v1", "mujoco/Reacher-v5", "mujoco/Pusher-v5",
               "classic/Pendulum-v1"}
# Tasks with a function whose scenarios return None: their layers change observations.
OBS_LAYERS = {f"mujoco/{task}-{level}-v0" for task in ("InvertedPendulum", "InvertedDoublePendulum", "Hopper",
                                                        "Walker2d", "Ant", "Humanoid")
              for level in ("easy", "medium", "hard")} | {"sim2real/Hopper-real-v0"}
NEVER = {"PendulumEnv", "HalfCheetahEnv", "SwimmerEnv", "ReacherEnv", "PusherEnv", "HumanoidStandupEnv"}
"""Never terminate (time limit only): their function is always False, with any layers."""
SET_STATE = {"classic/Acrobot-v1": lambda rng: rng.uniform([-np.pi, -np.pi, -1, -1], [np.pi, np.pi, 1, 1]),
             "classic/MountainCar-v0": lambda rng: rng.uniform([0.3, -0.07], [0.6, 0.07]),
             "classic/MountainCarContinuous-v0": lambda rng: rng.uniform([0.3, -0.07], [0.6, 0.07])}
"""Terminating tasks random play rarely ends: tested from states set near their goal."""
# Source classes with no known termination function (goal-conditioned or discrete observations).
NO_FUNCTION = {
    "AdroitHandDoorEnv": "goal-conditioned robotics task, never terminates",
    "AdroitHandHammerEnv": "goal-conditioned robotics task, never terminates",
    "AdroitHandPenEnv": "goal-conditioned robotics task, never terminates",
    "AdroitHandRelocateEnv": "goal-conditioned robotics task, never terminates",
    "AntMazeEnv": "dict observation; ends at the goal (continuing_task option)",
    "PointMazeEnv": "dict observation; ends at the goal (continuing_task option)",
    "MujocoFetchPickAndPlaceEnv": "dict observation, never terminates",
    "MujocoFetchPushEnv": "dict observation, never terminates",
    "MujocoFetchReachEnv": "dict observation, never terminates",
    "MujocoFetchSlideEnv": "dict observation, never terminates",
    "CliffWalkingEnv": "discrete observation; not added",
    "FrozenLakeEnv": "discrete observation (hole map); not added",
    "TaxiEnv": "discrete observation; not added",
    "BitFlippingEnv": "goal-conditioned Dict of bits; terminates when the goal is reached (goals/ is for HER)",
}


def single_agent_ids() -> list[str]:
    """The shipped catalog's ids (not those another test registered at run time) outside the multi-agent families."""
    from scenarios.registry import _load_catalog

    return [sid for sid in sorted(_load_catalog()) if not sid.startswith(("mpe/", "sisl/", "matrix/", "mamujoco/"))]


def test_every_single_agent_scenario_has_a_function_or_a_listed_reason():
    seen = set()
    for sid in single_agent_ids():
        sc = scenarios.make(sid)
        if sc.num_agents != 1:
            continue
        seen.add(sid)
        fn, cls = termination_function(sc), type(sc.unwrapped).__name__
        if sid in WITH_TERMINATION or sid in SET_STATE or cls in NEVER:
            assert fn is not None, sid
        else:
            assert fn is None, sid
            assert sid in OBS_LAYERS or cls in NO_FUNCTION, f"{sid} ({cls}) returns None without a listed reason"
        assert (reward_function(sc) is not None) == (sid in WITH_REWARD), sid
        sc.close()
    assert WITH_TERMINATION | OBS_LAYERS <= seen


@pytest.mark.parametrize("sid", sorted(WITH_TERMINATION))
def test_known_termination_equals_the_env_flag_over_random_rollouts(sid):
    sc = scenarios.make(sid, seed=0)
    fn, rf = termination_function(sc), reward_function(sc)
    space = sc.action_space(AGENT)
    space.seed(0)
    obs, _ = sc.reset(seed=0)
    ends = 0
    for _ in range(2000):
        a = space.sample()
        nxt, rew, term, trunc, _ = sc.step({AGENT: a})
        o, o2 = obs[AGENT], nxt[AGENT]
        assert bool(fn(o, a, o2)) == bool(term[AGENT]), (sid, o2)
        batch = fn(o[None, None], np.asarray(a)[None, None], o2[None, None])  # batched over leading dims
        assert batch.shape == (1, 1) and bool(batch[0, 0]) == bool(term[AGENT])
        if rf is not None:
            assert float(rf(o, a, o2)) == pytest.approx(float(rew[AGENT]))
        ends += bool(term[AGENT])
        obs = nxt
        if term[AGENT] or trunc[AGENT]:
            obs, _ = sc.reset()
    assert ends >= 3, f"{sid}: too few terminations ({ends}) in the rollout to test the function"


@pytest.mark.parametrize("sid", sorted(SET_STATE))
def test_known_termination_equals_the_env_flag_from_states_near_the_goal(sid):
    sc = scenarios.make(sid, seed=0)
    fn, rng, space = termination_function(sc), np.random.default_rng(0), sc.action_space(AGENT)
    space.seed(0)
    ends = 0
    for _ in range(400):
        sc.reset()
        sc.unwrapped.state = SET_STATE[sid](rng)
        a = space.sample()
        nxt, _, term, _, _ = sc.step({AGENT: a})
        assert bool(fn(None, a, nxt[AGENT])) == bool(term[AGENT]), (sid, nxt[AGENT])
        ends += bool(term[AGENT])
    assert 40 <= ends <= 360, f"{sid}: {ends} of 400 steps ended; the states do not straddle the goal"


def test_tasks_that_never_terminate_have_an_always_false_function_whatever_the_layers():
    ids = [sid for sid in single_agent_ids() if type(scenarios.make(sid).unwrapped).__name__ in NEVER]
    assert {"mujoco/HalfCheetah-v5", "mujoco/HalfCheetah-hard-v0", "classic/Pendulum-v1"} <= set(ids), ids
    for sid in ids:
        sc = scenarios.make(sid, seed=0)
        fn = termination_function(sc)
        assert fn is not None and not fn(None, None, np.ones((4, 3, sc.observation_space(AGENT).shape[0]))).any(), sid
    sc = scenarios.make("mujoco/HalfCheetah-hard-v0", seed=0)  # observation layers: still never terminates
    sc.reset(seed=0)
    for _ in range(200):
        _, _, term, trunc, _ = sc.step({AGENT: sc.action_space(AGENT).sample()})
        assert not term[AGENT]


def test_kwargs_the_function_reads_from_the_env():
    sc = scenarios.make({"id": "test/Hopper-pos-v0", "source": "gymnasium:Hopper-v5",
                         "kwargs": {"exclude_current_positions_from_observation": False, "healthy_z_range": [1.0, 2.0]}})
    fn = termination_function(sc)
    state = np.zeros(12)
    state[1] = 1.5  # qpos[1], the height, now at index 1 (index 0 is x)
    assert not fn(None, None, state)
    state[1] = 0.9
    assert fn(None, None, state)
    never = scenarios.make({"id": "test/Walker-free-v0", "source": "gymnasium:Walker2d-v5",
                            "kwargs": {"terminate_when_unhealthy": False}})
    assert not termination_function(never)(None, None, np.zeros((3, 17))).any()


@pytest.mark.parametrize("sid", sorted(WITH_REWARD))
def test_known_reward_equals_the_env_reward_over_random_rollouts(sid):
    """Every known reward (the termination test checks those of terminating tasks too) equals the
    env's reward at every step of random rollouts with resets, alone and batched."""
    sc = scenarios.make(sid, seed=1)
    rf = reward_function(sc)
    space = sc.action_space(AGENT)
    space.seed(1)
    obs, _ = sc.reset(seed=1)
    rows = []
    for _ in range(300):
        a = space.sample()
        nxt, rew, term, trunc, _ = sc.step({AGENT: a})
        assert float(rf(obs[AGENT], a, nxt[AGENT])) == pytest.approx(float(rew[AGENT]), rel=1e-6, abs=1e-7), sid  # Pendulum observes float32
        rows.append((obs[AGENT], np.asarray(a, np.float64).reshape(-1), nxt[AGENT], float(rew[AGENT])))
        obs = nxt
        if term[AGENT] or trunc[AGENT]:
            obs, _ = sc.reset()
    o, a, o2, r = (np.stack([row[i] for row in rows]) for i in range(4))
    if isinstance(sc.action_space(AGENT), spaces.Discrete):
        a = a[:, 0]
    batched = rf(o.reshape(20, 15, -1), a.reshape(20, 15, *a.shape[1:]), o2.reshape(20, 15, -1))
    assert np.allclose(np.asarray(batched, np.float64).reshape(-1), r, rtol=1e-6, atol=1e-7)
    assert np.ptp(r) > 0 or sid in {"mujoco/InvertedPendulum-v5", "classic/CartPole-v1"}


def test_a_control_cost_with_an_action_layer_has_no_known_reward():
    """The env charges the applied action: with an action layer the agent's action is not it."""
    for sid in ("mujoco/Reacher-v5", "mujoco/Pusher-v5", "classic/Pendulum-v1"):
        spec = scenarios.get_spec(sid).model_dump() | {
            "id": f"test/{sid.split('/')[1]}-noisy-act-v0",
            "layers": [{"type": "action_gaussian_noise", "params": {"std": 0.1}}]}
        assert reward_function(scenarios.make(spec)) is None, sid
    pole = scenarios.get_spec("mujoco/InvertedPendulum-v5").model_dump() | {
        "id": "test/InvertedPendulum-noisy-act-v0", "layers": [{"type": "action_gaussian_noise", "params": {"std": 0.1}}]}
    assert reward_function(scenarios.make(pole)) is not None  # +1 per step alive: the action does not enter


def test_reward_weights_are_read_from_the_env():
    sc = scenarios.make({"id": "test/Reacher-w-v0", "source": "gymnasium:Reacher-v5",
                         "kwargs": {"reward_dist_weight": 2.0, "reward_control_weight": 0.5}})
    nxt = np.zeros(10)
    nxt[8:10] = [0.3, 0.4]
    assert reward_function(sc)(None, np.array([1.0, 1.0]), nxt) == pytest.approx(-2.0 * 0.5 - 0.5 * 2.0)
