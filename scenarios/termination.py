"""Known termination and reward functions of observations, for the tasks whose observation
determines them (model-based agents plan with these instead of learning them).

``termination_function(scenario)`` returns ``fn(obs, action, next_obs) -> bool array`` (batched
over leading dimensions, numpy arrays) equal to the scenario's ``terminated`` flag for the step
``obs --action--> next_obs``, or ``None`` where the observation does not determine it.
``reward_function(scenario)`` does the same for the reward where the observation and action
determine it (+1 per step alive; Reacher-v5, Pusher-v5 and Pendulum-v1). Each is derived from
the Gymnasium source of its task (v5 MuJoCo, classic CartPole and Pendulum) and reads the
healthy ranges, ``terminate_when_unhealthy``, ``exclude_current_positions_from_observation`` and
the reward weights from the env's own attributes:

- InvertedPendulum-v5: ``not isfinite(next_obs).all() or |next_obs[1]| > 0.2``; reward
  ``1 - terminated``.
- InvertedDoublePendulum-v5: the tip height ``y <= 1``, with ``y`` computed from the links'
  cosines and sines in the observation and the link geometry read from the model.
- Hopper-v5, Walker2d-v5: height and angle outside their healthy ranges (Hopper: also any of
  ``qpos[2:]``, ``qvel`` outside ``healthy_state_range``; the observation clips velocities to
  +-10, inside the default +-100, so a velocity beyond 100 is the one case the observation misses).
- Ant-v5: the torso height outside ``healthy_z_range`` (inclusive) or a non-finite observation.
- Humanoid-v5: the torso height outside ``healthy_z_range``.
- CartPole-v1: cart position or pole angle beyond the env's thresholds; reward 1 every step.
- Acrobot-v1: the tip above the bar, ``-cos(a) - cos(a + b) > 1`` from the observation's cosines
  and sines; MountainCar-v0 and MountainCarContinuous-v0: position and velocity at or past the
  env's goal (``goal_position``, ``goal_velocity``).
- Tasks that never terminate (their episodes end at the time limit only): HalfCheetah, Swimmer,
  Reacher, Pusher and HumanoidStandup (v5), Pendulum-v1: always False, whatever the layers (no
  layer ends an episode).
- Rewards only: Reacher-v5 and Pusher-v5 (distances between bodies the observation holds after
  the step, and the control cost, with the env's weights), Pendulum-v1 (the cost of the state
  before the step and of the clipped torque).

``None`` is returned where the scenario's layers or kwargs make the observation not determine
the flag: any layer that changes observations (noise, bias, delay, dropout...); for
InvertedDoublePendulum any layer at all (physics layers may change the link geometry the tip
height is computed from); for the reward, any layer that changes rewards, and for a reward with
a control cost any layer that changes actions; a task not listed.
Physics layers (mass, friction, forces) do not change the other tasks' termination as a function
of the observation. ``terminate_when_unhealthy: false`` gives a function that is always False.

>>> import scenarios
>>> from scenarios.termination import termination_function
>>> fn = termination_function(scenarios.make("mujoco/InvertedPendulum-v5"))
>>> fn(None, None, np.array([[0.0, 0.1, 0, 0], [0.0, 0.3, 0, 0]])).tolist()
[False, True]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios.layers.base import Layer

if TYPE_CHECKING:
    from scenarios.scenario import Scenario

TransitionFn = Callable[[Any, Any, np.ndarray], np.ndarray]
"""``fn(obs, action, next_obs)``: an array over the leading dimensions of ``next_obs``."""

_MUJOCO = "gymnasium.envs.mujoco."


def _task(scenario: Scenario) -> tuple[str, Any]:
    """The source env's module-qualified class name and the env (``''`` where not single-agent)."""
    if len(scenario.possible_agents) != 1:
        return "", None
    env = scenario.unwrapped
    return f"{type(env).__module__}.{type(env).__name__}", env


def _overrides(scenario: Scenario, hook: str) -> bool:
    """Whether any of the scenario's layers defines ``hook`` (e.g. changes observations)."""
    return any(getattr(type(layer), hook) is not getattr(Layer, hook) for layer in scenario.layers)


def _never(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
    return np.zeros(np.shape(next_obs)[:-1], dtype=bool)


def _outside(x: np.ndarray, bounds: tuple[float, float], inclusive: bool = False) -> np.ndarray:
    lo, hi = bounds
    return ~((lo <= x) & (x <= hi)) if inclusive else ~((lo < x) & (x < hi))


def _inverted_pendulum(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
    return ~np.isfinite(next_obs).all(axis=-1) | (np.abs(next_obs[..., 1]) > 0.2)


def _double_pendulum(env: Any) -> TransitionFn:
    """Tip height from the observation ``[x, sin a, sin b, cos a, cos b, ...]`` and the model."""
    m = env.model
    pole, pole2 = m.body("pole"), m.body("pole2")
    base = float(m.body("cart").pos[2] + pole.pos[2])  # hinge height (the cart slides along x)
    l1, l2 = float(pole2.pos[2]), float(m.site_pos[0][2])  # site 0 is the tip, as the env reads it  # hinge-to-hinge, hinge-to-tip

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        s1, s2, c1, c2 = (next_obs[..., i] for i in (1, 2, 3, 4))
        y = base + l1 * c1 + l2 * (c1 * c2 - s1 * s2)
        return y <= 1

    return fn


def _healthy(env: Any, z_at: int, angle: bool, state: bool, inclusive: bool, finite: bool) -> TransitionFn:
    """Unhealthy: height ``next_obs[z_at]`` (and the angle after it, and the state vector after
    the height) outside the env's ranges."""
    if not env._terminate_when_unhealthy:
        return _never
    z_range = env._healthy_z_range
    angle_range = env._healthy_angle_range if angle else None
    state_range = env._healthy_state_range if state else None

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        bad = _outside(next_obs[..., z_at], z_range, inclusive)
        if angle_range is not None:
            bad |= _outside(next_obs[..., z_at + 1], angle_range)
        if state_range is not None:
            bad |= _outside(next_obs[..., z_at + 1 :], state_range).any(axis=-1)
        if finite:
            bad |= ~np.isfinite(next_obs).all(axis=-1)
        return bad

    return fn


def _cartpole(env: Any) -> TransitionFn:
    x_max, theta_max = float(env.x_threshold), float(env.theta_threshold_radians)

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        return (np.abs(next_obs[..., 0]) > x_max) | (np.abs(next_obs[..., 2]) > theta_max)

    return fn


_NEVER = {_MUJOCO + "half_cheetah_v5.HalfCheetahEnv", _MUJOCO + "swimmer_v5.SwimmerEnv", _MUJOCO + "reacher_v5.ReacherEnv",
          _MUJOCO + "pusher_v5.PusherEnv", _MUJOCO + "humanoidstandup_v5.HumanoidStandupEnv",
          "gymnasium.envs.classic_control.pendulum.PendulumEnv"}
"""Source classes whose ``terminated`` is always False (the time limit alone ends an episode)."""


def _acrobot(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
    """``-cos(a) - cos(a + b) > 1`` from ``[cos a, sin a, cos b, sin b, ...]``."""
    c1, s1, c2, s2 = (next_obs[..., i] for i in range(4))
    return -c1 - (c1 * c2 - s1 * s2) > 1.0


def _mountain_car(env: Any) -> TransitionFn:
    goal_position, goal_velocity = float(env.goal_position), float(env.goal_velocity)

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        return (next_obs[..., 0] >= goal_position) & (next_obs[..., 1] >= goal_velocity)

    return fn


def termination_function(scenario: Scenario) -> TransitionFn | None:
    """The known ``terminated`` of ``scenario`` as a function of ``(obs, action, next_obs)``, or
    ``None`` where its observation does not determine it (see the module docstring)."""
    name, env = _task(scenario)
    if env is None:
        return None
    if name in _NEVER:
        return _never
    if _overrides(scenario, "observe"):
        return None
    if name == _MUJOCO + "inverted_pendulum_v5.InvertedPendulumEnv":
        return _inverted_pendulum
    if name == _MUJOCO + "inverted_double_pendulum_v5.InvertedDoublePendulumEnv":
        return None if scenario.layers else _double_pendulum(env)
    planar = 0 if env.__dict__.get("_exclude_current_positions_from_observation", True) else 1
    spatial = 0 if env.__dict__.get("_exclude_current_positions_from_observation", True) else 2
    if name == _MUJOCO + "hopper_v5.HopperEnv":
        return _healthy(env, planar, angle=True, state=True, inclusive=False, finite=False)
    if name == _MUJOCO + "walker2d_v5.Walker2dEnv":
        return _healthy(env, planar, angle=True, state=False, inclusive=False, finite=False)
    if name == _MUJOCO + "ant_v5.AntEnv":
        return _healthy(env, spatial, angle=False, state=False, inclusive=True, finite=True)
    if name == _MUJOCO + "humanoid_v5.HumanoidEnv":
        return _healthy(env, spatial, angle=False, state=False, inclusive=False, finite=False)
    if name == "gymnasium.envs.classic_control.cartpole.CartPoleEnv":
        return _cartpole(env)
    if name == "gymnasium.envs.classic_control.acrobot.AcrobotEnv":
        return _acrobot
    if name in ("gymnasium.envs.classic_control.mountain_car.MountainCarEnv",
                "gymnasium.envs.classic_control.continuous_mountain_car.Continuous_MountainCarEnv"):
        return _mountain_car(env)
    return None


def _reacher(env: Any) -> TransitionFn:
    """Reacher-v5 (reward after the physics step): ``-w_dist * |fingertip - target| - w_ctrl * |a|^2``,
    the distance from the observation's last two entries (the bodies' heights are equal)."""
    w_dist, w_ctrl = float(env._reward_dist_weight), float(env._reward_control_weight)

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        dist = np.linalg.norm(np.asarray(next_obs)[..., 8:10], axis=-1)
        return -w_dist * dist - w_ctrl * np.square(action).sum(axis=-1)

    return fn


def _pusher(env: Any) -> TransitionFn:
    """Pusher-v5 (after the step): the object's distances to the arm's tip and to the goal, read
    from the observation's last nine entries (tip, object and goal positions), and the control cost."""
    w_near, w_dist, w_ctrl = (float(env._reward_near_weight), float(env._reward_dist_weight),
                              float(env._reward_control_weight))

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        o = np.asarray(next_obs)
        tip, obj, goal = o[..., 14:17], o[..., 17:20], o[..., 20:23]
        return (-w_near * np.linalg.norm(obj - tip, axis=-1) - w_dist * np.linalg.norm(obj - goal, axis=-1)
                - w_ctrl * np.square(action).sum(axis=-1))

    return fn


def _pendulum(env: Any) -> TransitionFn:
    """Pendulum-v1 (cost of the state before the step): ``-(theta^2 + 0.1 thetadot^2 + 0.001 u^2)``,
    ``theta`` in [-pi, pi] from the observed cosine and sine, ``u`` clipped to ``max_torque``."""
    limit = float(env.max_torque)

    def fn(obs: Any, action: Any, next_obs: np.ndarray) -> np.ndarray:
        o = np.asarray(obs)
        theta = np.arctan2(o[..., 1], o[..., 0])
        u = np.clip(np.asarray(action), -limit, limit)[..., 0]
        return -(theta**2 + 0.1 * o[..., 2] ** 2 + 0.001 * u**2)

    return fn


def reward_function(scenario: Scenario) -> TransitionFn | None:
    """The known reward of ``scenario`` as a function of ``(obs, action, next_obs)``, or ``None``.

    Known: +1 per step alive (InvertedPendulum-v5: 0 on the terminating step; CartPole-v1 without
    the Sutton-Barto reward: 1 on every step), Reacher-v5, Pusher-v5 and Pendulum-v1 (their
    weights read from the env). ``None`` for other tasks, where a layer changes rewards or
    observations, and for the rewards with a control cost where a layer changes actions (the cost
    is of the applied action, which the agent's action no longer is)."""
    name, env = _task(scenario)
    if env is None or _overrides(scenario, "reward") or _overrides(scenario, "observe"):
        return None
    if name == _MUJOCO + "inverted_pendulum_v5.InvertedPendulumEnv":
        return lambda obs, action, next_obs: 1.0 - _inverted_pendulum(obs, action, next_obs)
    if name == "gymnasium.envs.classic_control.cartpole.CartPoleEnv" and not getattr(env, "_sutton_barto_reward", False):
        return lambda obs, action, next_obs: np.ones(np.shape(next_obs)[:-1])
    if _overrides(scenario, "act"):
        return None
    if name == _MUJOCO + "reacher_v5.ReacherEnv":
        return _reacher(env)
    if name == _MUJOCO + "pusher_v5.PusherEnv":
        return _pusher(env)
    if name == "gymnasium.envs.classic_control.pendulum.PendulumEnv":
        return _pendulum(env)
    return None
