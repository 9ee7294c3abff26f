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
