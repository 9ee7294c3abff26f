"""Scenarios in other tools' loops: every single-agent id is a Gymnasium id (time limit,
kwargs, make_vec, pickling, rendering), every scenario a PettingZoo parallel_env; SB3's
make_vec_env, a CleanRL-style PPO loop and PettingZoo's parallel_api_test run unchanged."""

import os
import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import scenarios
from scenarios.gymnasium_ids import is_single_agent
from tests.registry_params import registry_params

SINGLE = [i for i in scenarios.list_ids() if is_single_agent(scenarios.get_spec(i))]


def test_every_single_agent_scenario_is_a_gymnasium_id_and_no_other():
    assert len(SINGLE) > 40
    for sid in scenarios.list_ids():
        assert (sid in gym.registry) == (sid in SINGLE), sid
        if sid in SINGLE:
            ns, name, version = gym.envs.registration.parse_env_id(sid)
            assert ns == sid.split("/")[0] and f"{ns}/{name}-v{version}" == sid


@pytest.mark.parametrize("sid", registry_params(SINGLE))
def test_gymnasium_make_gives_the_scenario_with_its_time_limit_and_it_pickles(sid):
    env = gym.make(sid)
    sc = scenarios.make(sid)
    assert env.spec.id == sid and env.spec.max_episode_steps == sc.time_limit
    assert env.observation_space == sc.observation_space("agent_0") and env.action_space == sc.action_space("agent_0")
    clone = pickle.loads(pickle.dumps(env))  # e.g. for AsyncVectorEnv with the spawn start method
    a = env.action_space.sample()
    for e in (env, clone):
        e.reset(seed=3)
    o1, r1, *_ = env.step(a)
    o2, r2, *_ = clone.step(a)
    for key in (o1 if isinstance(o1, dict) else [None]):  # goal-conditioned: each key
        np.testing.assert_array_equal(o1 if key is None else o1[key], o2 if key is None else o2[key])
    assert r1 == r2
    env.close()
    clone.close()


def test_kwargs_reach_the_scenario_and_the_time_limit_truncates():
    env = gym.make("classic/Pendulum-v1", g=3.5, time_limit=7)
    assert env.unwrapped.scenario.unwrapped.g == 3.5
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]


def test_module_id_form_imports_scenarios_itself():
    code = ("import gymnasium as gym; env = gym.make('scenarios:mujoco/Hopper-hard-v0'); "
            "print(env.spec.id, env.reset(seed=0)[0].shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["mujoco/Hopper-hard-v0", "(11,)"]


def test_user_registered_scenarios_become_gymnasium_ids():
    scenarios.register({"id": "user/ShortCartPole-v0", "source": "gymnasium:CartPole-v1", "time_limit": 20})
    env = gym.make("user/ShortCartPole-v0")
    assert env.spec.max_episode_steps == 20


@pytest.mark.parametrize("mode,kwargs", [("sync", {}), ("async", {"context": "spawn"})])
def test_make_vec_steps_copies(mode, kwargs):
    envs = gym.make_vec("mujoco/Hopper-v5", num_envs=2, vectorization_mode=mode, vector_kwargs=kwargs)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 11)
    obs, rew, term, trunc, _ = envs.step(envs.action_space.sample())
    assert obs.shape == (2, 11) and rew.shape == (2,)
    envs.close()


def test_rgb_array_rendering_and_record_video(tmp_path):
    os.environ.setdefault("MUJOCO_GL", "egl")
    env = gym.make("mujoco/InvertedPendulum-v5", render_mode="rgb_array", width=64, height=48)
    assert "rgb_array" in env.metadata["render_modes"] and env.render_mode == "rgb_array"
    env = gym.wrappers.RecordVideo(env, str(tmp_path), episode_trigger=lambda k: True, disable_logger=True)
    env.reset(seed=0)
    frame = env.render()
    for _ in range(3):
        if any(env.step(np.zeros(1, np.float32))[2:4]):
            break
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
    env.close()
    assert list(tmp_path.glob("*.mp4"))


def test_sb3_make_vec_env_trains_on_an_id():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("mujoco/InvertedPendulum-v5", n_envs=2, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps >= 256
    venv.close()


def test_cleanrl_style_ppo_loop_runs_on_make_vec():
    """CleanRL's ppo.py loop, abridged (same calls on the vector env: reset(seed), step, infos)."""
    torch.manual_seed(0)
    envs = gym.make_vec("classic/CartPole-v1", num_envs=4, vectorization_mode="sync",
                        wrappers=[gym.wrappers.RecordEpisodeStatistics])
    n_obs, n_act, steps = envs.single_observation_space.shape[0], envs.single_action_space.n, 128
    actor = torch.nn.Sequential(torch.nn.Linear(n_obs, 64), torch.nn.Tanh(), torch.nn.Linear(64, n_act))
    critic = torch.nn.Sequential(torch.nn.Linear(n_obs, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=2.5e-3)
    next_obs, _ = envs.reset(seed=1)
    returns = []
    for _ in range(6):
        obs_b, act_b, logp_b, rew_b, done_b, val_b = [], [], [], [], [], []
        for _ in range(steps):
            o = torch.as_tensor(next_obs, dtype=torch.float32)
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=actor(o))
                a = dist.sample()
                obs_b.append(o), act_b.append(a), logp_b.append(dist.log_prob(a)), val_b.append(critic(o)[:, 0])
            next_obs, r, term, trunc, infos = envs.step(a.numpy())
            rew_b.append(torch.as_tensor(r, dtype=torch.float32)), done_b.append(torch.as_tensor(term | trunc, dtype=torch.float32))
            if "episode" in infos:
                returns += list(infos["episode"]["r"][infos["_episode"]])
        with torch.no_grad():
            adv, last = torch.zeros(steps, 4), torch.zeros(4)
            nxt = critic(torch.as_tensor(next_obs, dtype=torch.float32))[:, 0]
            for t in reversed(range(steps)):
                v_next = nxt if t == steps - 1 else val_b[t + 1]
                delta = rew_b[t] + 0.99 * v_next * (1 - done_b[t]) - val_b[t]
                adv[t] = last = delta + 0.99 * 0.95 * (1 - done_b[t]) * last
            ret = adv + torch.stack(val_b)
        O, A, L = torch.cat(obs_b), torch.cat(act_b), torch.cat(logp_b)
        for _ in range(4):
            dist = torch.distributions.Categorical(logits=actor(O))
            ratio = (dist.log_prob(A) - L).exp()
            advf = adv.flatten()
            pg = -torch.min(ratio * advf, ratio.clamp(0.8, 1.2) * advf).mean()
            loss = pg + 0.5 * ((critic(O)[:, 0] - ret.flatten()) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    envs.close()
    assert len(returns) > 20 and np.isfinite(returns).all()
    assert np.mean(returns[-10:]) > np.mean(returns[:10])  # it learns a little within 3k steps


@pytest.mark.parametrize("sid", ["mpe/simple_spread-v3", "mpe/simple_speaker_listener-v4", "matrix/climbing-v0"])
def test_parallel_env_passes_pettingzoos_api_test(sid):
    from pettingzoo.test import parallel_api_test

    env = scenarios.parallel_env(sid)
    parallel_api_test(env, num_cycles=50)
    assert set(env.observation_spaces) == set(env.possible_agents) == set(env.action_spaces)


def test_parallel_env_has_state_space_and_passes_kwargs():
    env = scenarios.parallel_env("mpe/simple_spread-v3", N=2)
    assert env.possible_agents == ["agent_0", "agent_1"]
    env.reset(seed=0)
    assert env.state().shape == env.state_space.shape
