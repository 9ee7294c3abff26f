"""Training continues where it stopped: learn(k); learn(k) equals learn(2k) for the same seed
(environment streams, buffers, counters carried over; schedules run over the declared budget
``total_steps``). Steps are whole collection chunks (SB3 rounds a call up to whole rollouts)."""

import numpy as np
import pytest
import torch

import agents
import scenarios

CP, PEND, IP, CLIMB = "classic/CartPole-v1", "classic/Pendulum-v1", "mujoco/InvertedPendulum-v5", "matrix/climbing-v0"
ROLLOUT = {"n_envs": 2, "n_steps": 64, "batch_size": 64}
REPLAY = {"n_envs": 2, "learning_starts": 100}
CASES = {  # name: (scenario, steps per call, overrides)
    "ppo": (CP, 256, ROLLOUT),
    "a2c": (CP, 200, {"n_envs": 2, "n_steps": 5}),
    "trpo": (CP, 256, ROLLOUT),
    "dqn": (CP, 400, {**REPLAY, "train_freq": 4, "gradient_steps": 1, "target_update_interval": 50}),
    "qrdqn": (CP, 400, {**REPLAY, "train_freq": 4, "gradient_steps": 1, "target_update_interval": 50}),
    "sac": (PEND, 150, REPLAY),
    "td3": (PEND, 150, REPLAY),
    "ddpg": (PEND, 150, REPLAY),
    "tqc": (PEND, 150, REPLAY),
    "joint_ppo": (CLIMB, 256, ROLLOUT),
    "joint_q": (CLIMB, 200, {"learning_starts": 50}),
    "adv_ppo": (IP, 128, {**ROLLOUT, "attack_steps": 2}),
    "double_dqn": (CP, 600, {"learning_starts": 100, "n_envs": 2}),
    "rainbow": (CP, 600, {"learning_starts": 100, "n_envs": 2}),
    "mappo": ("mpe/simple_spread-v3", 200, {"n_envs": 2, "n_steps": 50}),
    "ippo": ("mpe/simple_speaker_listener-v4", 200, {"n_envs": 2, "n_steps": 50, "recurrent": True}),
    "qmix": ("mpe/simple_spread-v3", 200, {"n_envs": 2, "learning_starts": 50}),
    "vdn": ("mpe/simple_spread-v3", 200, {"n_envs": 2, "learning_starts": 50}),
    "maddpg": ("mpe/simple_speaker_listener-v4", 200, {"n_envs": 2, "learning_starts": 50}),
    "rarl": (IP, 128, {**ROLLOUT, "adversary_bodies": ["pole"], "rounds": 2}),
    "adr": (IP, 128, {**ROLLOUT, "parameters": ["body_mass:pole"], "chunk": 128, "boundary_episodes": 1}),
    "pets": (IP, 60, {"model_arch": [16], "samples": 16, "horizon": 5, "iterations": 1, "learning_starts": 30,
                      "round_steps": 30, "model_updates": 10}),
    "mbpo": (IP, 60, {"model_arch": [16], "net_arch": [16], "batch_size": 16, "learning_starts": 30, "round_steps": 30,
                      "model_updates": 10, "gradient_steps": 1, "rollout_batch": 20, "rollout_length": 2}),
    "mbve": (IP, 60, {"model_arch": [16], "net_arch": [16], "batch_size": 16, "learning_starts": 30, "round_steps": 30,
                      "model_updates": 10, "gradient_steps": 1}),
    "i2a": (CP, 256, {"n_envs": 2, "n_steps": 16, "learning_starts": 64, "round_steps": 128, "model_updates": 10,
                      "model_arch": [16]}),
    "dagger": (IP, 64, {"expert": "random", "rounds": 2, "n_envs": 2, "epochs": 1}),
    "a3c": (CP, 300, {"n_workers": 1, "n_envs": 2}),  # one worker: reproducible (more interleave asynchronously)
    "impala": (CP, 200, {"n_workers": 1, "n_envs": 2, "unroll_length": 10}),
}
SLOW = {"a3c", "impala", "trpo", "qrdqn", "td3", "ddpg", "tqc", "joint_q", "rainbow", "ippo", "vdn", "maddpg", "a2c", "joint_ppo"}


def _acts(agent, sc):
    obs, _ = sc.vector(4, seed=11).reset()
    return {a: np.asarray(v, np.float64) for a, v in agent.act(obs, deterministic=True).items()}


def _weights(agent):
    """Every network parameter the agent holds: SB3 models' policies and torch modules, also one
    level down (an agent built from another, as DAgger from BC)."""
    found, seen = [], set()

    def visit(obj, depth):
        for v in list(vars(obj).values()):
            items = v if isinstance(v, (list, tuple)) else [v]
            for x in items:
                if id(x) in seen:
                    continue
                seen.add(id(x))
                if isinstance(x, torch.nn.Module):
                    found.append(x)
                elif isinstance(getattr(x, "policy", None), torch.nn.Module):
                    found.append(x.policy)  # an SB3 model
                elif depth and type(x).__module__.startswith("agents.") and hasattr(x, "__dict__"):
                    visit(x, depth - 1)

    visit(agent, 1)
    out = [p.detach().clone() for m in found for p in m.parameters()]
    assert out, f"{agent.name}: no networks found to compare"
    return out


def _continue_equals_uninterrupted(name, sid, steps, hp):
    sc = scenarios.make(sid)
    extra = {"total_steps": 2 * steps} if "total_steps" in agents.agent_class(name).valid_hyperparameters() else {}
    split = agents.make(name, sc, seed=3, **hp, **extra)
    split.learn(steps)
    split.learn(steps)
    whole = agents.make(name, sc, seed=3, **hp, **extra)
    whole.learn(2 * steps)
    if not all(torch.equal(a, b) for a, b in zip(_weights(split), _weights(whole))):
        return False
    a, b = _acts(split, sc), _acts(whole, sc)
    return all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(CASES)])
def test_two_calls_equal_one(name):
    assert _continue_equals_uninterrupted(name, *CASES[name])


@pytest.mark.parametrize("name", ["gail", "airl"])
def test_two_calls_equal_one_for_adversarial_imitation(name, tmp_path):
    from agents.imitation import dataset

    sc = scenarios.make(IP)
    demos = dataset.record(agents.make("random", sc, seed=0), sc, episodes=2, seed=0).save(tmp_path / "demos.npz")
    assert _continue_equals_uninterrupted(name, IP, 128, {**ROLLOUT, "dataset": str(demos), "learning_rate": "lin_1e-3"})


def test_constant_schedules_need_no_declared_budget():
    hp = {**ROLLOUT, "learning_rate": 3e-4, "clip_range": 0.2}
    split = agents.make("ppo", CP, seed=1, **hp)
    split.learn(128)
    assert split.hparams["total_steps"] == 128  # the first call declared the budget (saved with the checkpoint)
    split.learn(128)
    whole = agents.make("ppo", CP, seed=1, **hp)
    whole.learn(256)
    assert all(torch.equal(a, b) for a, b in zip(_weights(split), _weights(whole)))


def test_a_schedule_runs_over_the_declared_budget():
    ppo = agents.make("ppo", CP, seed=0, **ROLLOUT, learning_rate="lin_1e-3", total_steps=512)
    ppo.learn(256)
    assert ppo.model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 256 / 512), rel=0.3)
    ppo.learn(512)  # past the budget the schedule stays at its end, never negative
    assert ppo.model.policy.optimizer.param_groups[0]["lr"] == 0.0
