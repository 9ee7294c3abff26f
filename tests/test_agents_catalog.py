"""Every registered method: learns (or plans) better than random on a tiny budget, is
deterministic for a seed, round-trips through save/load, and runs through the CLI."""

import functools
import tempfile

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import agents
import scenarios
import testbed
from testbed.cli import app

# method -> (scenario, training steps, overrides, episodes, margin over random)
SMALL_DQN = dict(learning_starts=500, train_freq=4, gradient_steps=1, target_update_interval=250, net_arch=[64, 64],
                 eps_fraction=0.3, learning_rate=1e-3, batch_size=64, tau=1.0)
CASES = {
    "ppo": ("classic/CartPole-v1", 20_000, {}, 5, 3.0),
    "fast_ppo": ("classic/CartPole-v1", 20_000, {}, 5, 3.0),
    "a2c": ("classic/CartPole-v1", 15_000, {}, 5, 2.0),
    "trpo": ("classic/CartPole-v1", 15_000, {}, 5, 2.0),
    "dqn": ("classic/CartPole-v1", 12_000, {}, 5, 2.0),
    "qrdqn": ("classic/CartPole-v1", 12_000, {}, 5, 2.0),
    "double_dqn": ("classic/CartPole-v1", 15_000, SMALL_DQN, 5, 2.0),
    "dueling_dqn": ("classic/CartPole-v1", 15_000, SMALL_DQN, 5, 2.0),
    "rainbow": ("classic/CartPole-v1", 15_000, SMALL_DQN, 5, 2.0),
    "reinforce": ("classic/CartPole-v1", 40_000, {}, 5, 3.0),
    "value_iteration": ("toytext/FrozenLake-v1", 1, {}, 100, 10.0),
    "policy_iteration": ("toytext/FrozenLake-v1", 1, {}, 100, 10.0),
    "q_learning": ("toytext/FrozenLake-v1", 60_000, {}, 100, 5.0),
    "sarsa": ("toytext/FrozenLake-v1", 60_000, {}, 100, 5.0),
}
SLOW_CASES = {  # continuous off-policy methods need thousands of ~10 ms gradient steps
    "sac": ("classic/Pendulum-v1", 6_000, {}, 5, None),
    "td3": ("classic/Pendulum-v1", 6_000, {}, 5, None),
    "ddpg": ("classic/Pendulum-v1", 6_000, {}, 5, None),
    "tqc": ("classic/Pendulum-v1", 6_000, {}, 5, None),
    "fast_sac": ("classic/Pendulum-v1", 6_000, {}, 5, None),  # small networks in the default run: tests/test_fast_sac.py
}
PLANNERS = {
    "mppi": ("mujoco/InvertedPendulum-v5", {"time_limit": 60}, {"samples": 32}),
    "cem": ("mujoco/InvertedPendulum-v5", {"time_limit": 60}, {"samples": 32, "iterations": 2, "horizon": 30}),
    "mcts": ("classic/CartPole-v1", {"time_limit": 60}, {"simulations": 30, "depth": 30, "rollout_depth": 30}),
}

SPREAD, LISTENER, CLIMB = "mpe/simple_spread-v3", "mpe/simple_speaker_listener-v4", "matrix/climbing-v0"
MULTI_AGENT = {  # learning on real budgets is tested in tests/test_marl.py; here: tiny runs
    "mappo": (SPREAD, 200, {"n_envs": 2, "n_steps": 50}),
    "ippo": (LISTENER, 200, {"n_envs": 2, "n_steps": 50, "recurrent": True}),
    "qmix": (SPREAD, 200, {"n_envs": 2, "learning_starts": 50}),
    "vdn": (SPREAD, 200, {"n_envs": 2, "learning_starts": 50}),
    "iql": (SPREAD, 200, {"n_envs": 2, "learning_starts": 50}),
    "maddpg": (LISTENER, 200, {"n_envs": 2, "learning_starts": 50}),
    "joint_ppo": (CLIMB, 256, {"n_envs": 2, "n_steps": 64, "batch_size": 64}),
    "joint_q": (CLIMB, 200, {"learning_starts": 50}),
    "jal": (CLIMB, 200, {}),
    "tabular_iql": (CLIMB, 200, {}),
    "spread_heuristic": (SPREAD, 0, {}),
    "speaker_listener_heuristic": (LISTENER, 0, {}),
    "reference_heuristic": ("mpe/simple_reference-v3", 0, {}),
}

IP = "mujoco/InvertedPendulum-v5"
_TINY_PPO = {"n_envs": 2, "n_steps": 64, "batch_size": 64}
IMITATION_ADVERSARIAL = {  # learning on real budgets: tests/test_imitation.py, tests/test_adversarial.py
    "bc": (IP, 50, {"dataset": "DEMOS", "epochs": 1}),
    "dagger": (IP, 64, {"expert": "random", "rounds": 2, "n_envs": 2, "epochs": 1}),
    "gail": (IP, 128, {"dataset": "DEMOS", **_TINY_PPO}),
    "airl": (IP, 128, {"dataset": "DEMOS", **_TINY_PPO}),
    "adv_ppo": (IP, 128, {**_TINY_PPO, "attack_steps": 2}),
    "rarl": (IP, 128, {**_TINY_PPO, "adversary_bodies": ["pole"], "rounds": 2}),
    "adr": (IP, 128, {**_TINY_PPO, "parameters": ["body_mass:pole"], "chunk": 128, "boundary_episodes": 1}),
}

TINY_MODEL = {"model_arch": [32, 32], "ensemble_size": 5, "model_updates": 150}
MODEL_BASED = {  # method -> (scenario, tiny-budget steps that beat random, overrides, margin over random)
    "pets": (IP, 200, {**TINY_MODEL, "samples": 32, "particles": 5, "horizon": 8, "iterations": 2, "learning_starts": 100,
                       "round_steps": 100}, 2.0),
    "mbpo": (IP, 500, {**TINY_MODEL, "learning_starts": 100, "round_steps": 100, "net_arch": [64, 64], "batch_size": 64,
                       "gradient_steps": 2, "rollout_batch": 500}, 2.0),
    "mbve": (IP, 500, {**TINY_MODEL, "learning_starts": 100, "round_steps": 100, "net_arch": [64, 64], "batch_size": 64,
                       "gradient_steps": 2}, 2.0),
    "i2a": ("classic/CartPole-v1", 4096, {"learning_starts": 1024, "round_steps": 1024, "model_updates": 100,
                                          "model_arch": [32, 32]}, 1.5),
}
SLOW_MODEL_BASED = {"mbpo", "mbve"}  # 800 SAC updates: 10-18 s on the loaded 2-core machine (2026-12-06)

PARALLEL = {  # learning on real budgets, kills and lag: tests/test_parallel_ac.py; one worker is reproducible
    "a3c": ("classic/CartPole-v1", 600, {"n_workers": 1, "n_envs": 2}),
    "impala": ("classic/CartPole-v1", 600, {"n_workers": 1, "n_envs": 2, "unroll_length": 10}),
}


@functools.cache
def _demos() -> str:
    from agents.imitation import dataset

    folder = tempfile.mkdtemp(prefix="demos")
    return str(dataset.record(agents.make("random", IP, seed=0), episodes=3, seed=0).save(f"{folder}/ip.npz"))


def mean_return(agent, scenario, episodes, seed=100):
    return float(np.mean([r.team_return for r in testbed.evaluate(agent, scenario, episodes=episodes, seed=seed)]))


def test_every_method_is_covered():
    assert set(agents.list_names()) == {"random", *CASES, *SLOW_CASES, *PLANNERS, *MULTI_AGENT, *IMITATION_ADVERSARIAL,
                                         *PARALLEL, *MODEL_BASED}


SLOW_LEARNING = {"qrdqn", "rainbow", "dqn", "double_dqn", "ppo"}  # 44, 20, 21, 9-10 and 9-10 s on a loaded 2-core
# machine (2026-11-27, 2026-12-06, 2026-12-08); dueling_dqn (our core, with double targets) stays, SB3's DQN path stays in
# the round-trip and CLI tests, ppo learns InvertedPendulum in tests/test_agents.py and a2c (SB3's same on-policy
# loop) CartPole here
SLOW_RAY = {"impala"}  # 19 and 9 s (a Ray start each); impala's workers, lag, resume and killed-worker tests stay
# (tests/test_parallel_ac.py; its CartPole learning run is slow too)


def _marked(names, slow):
    """``names`` as pytest params, those in ``slow`` marked slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


@pytest.mark.parametrize("name", _marked(sorted(CASES), SLOW_LEARNING))
def test_learns_better_than_random(name):
    sc_id, steps, hp, episodes, margin = CASES[name]
    sc = scenarios.make(sc_id)
    ag = agents.make(name, sc, seed=0, **hp)
    ag.learn(steps)
    random_return = mean_return(agents.make("random", sc, seed=0), sc, episodes)
    assert mean_return(ag, sc, episodes) > margin * max(random_return, 0.02)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_CASES))
def test_continuous_off_policy_learns_better_than_random(name):
    sc_id, steps, hp, episodes, _ = SLOW_CASES[name]
    sc = scenarios.make(sc_id)
    ag = agents.make(name, sc, seed=0, **hp)
    ag.learn(steps)
    random_return = mean_return(agents.make("random", sc, seed=0), sc, episodes)
    assert mean_return(ag, sc, episodes) > random_return + 400  # Pendulum: random ~ -1200, learned > -800


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_MODEL_BASED else n
                                  for n in sorted(MODEL_BASED)])
def test_model_based_methods_beat_random_on_a_tiny_budget(name):
    sc_id, steps, hp, margin = MODEL_BASED[name]
    sc = scenarios.make(sc_id)
    ag = agents.make(name, sc, seed=0, **hp)
    ag.learn(steps)
    random_return = mean_return(agents.make("random", sc, seed=0), sc, 3)
    assert mean_return(ag, sc, 3) > margin * max(random_return, 0.02)
    assert ag.history and all(k in ag.history[-1] for k in ("model_loss", "holdout_obs_mse", "holdout_reward_mse"))


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_planners_beat_random_without_learning(name):
    sc_id, overrides, hp = PLANNERS[name]
    sc = scenarios.make(sc_id, **overrides)
    planned = mean_return(agents.make(name, sc, seed=0, **hp), sc, 2)
    assert planned >= 0.9 * sc.time_limit  # balanced (nearly) to the limit
    assert mean_return(agents.make("random", sc, seed=0), sc, 2) < 0.5 * sc.time_limit


def test_cem_searches_each_step_afresh_around_the_shifted_plan(monkeypatch):
    """The elite spread was carried to the next step, where it shrank to its floor and froze the search."""
    sc = scenarios.make("mujoco/InvertedPendulum-v5", time_limit=12)
    ag = agents.make("cem", sc, seed=0, samples=32, iterations=2, horizon=10, noise_std=0.5)
    spreads, scores = [], ag.scores

    def recorded(states, actions):
        spreads.append(float(actions[1:, 0].std()))  # the first action of each sampled candidate
        return scores(states, actions)

    monkeypatch.setattr(ag, "scores", recorded)
    testbed.evaluate(ag, sc, episodes=1, seed=0)
    first = spreads[0::2]  # each step's first iteration
    assert len(first) == 12 and min(first) > 0.35, first


def _tiny(name):
    if name in PLANNERS:
        sc_id, overrides, hp = PLANNERS[name]
        return scenarios.make(sc_id, **{**overrides, "time_limit": 15}), 0, hp
    if name in MULTI_AGENT:
        sc_id, steps, hp = MULTI_AGENT[name]
        return scenarios.make(sc_id), steps, hp
    if name in PARALLEL:
        sc_id, steps, hp = PARALLEL[name]
        return scenarios.make(sc_id), steps, hp
    if name in MODEL_BASED:  # one refit on a few steps, and short episodes: determinism and the round trip
        sc_id, _, hp, _ = MODEL_BASED[name]
        if name == "i2a":
            return scenarios.make(sc_id), 256, {**hp, "n_envs": 2, "learning_starts": 64, "round_steps": 128,
                                                "model_updates": 10}
        return scenarios.make(sc_id, time_limit=30), 60, {**hp, "learning_starts": 30, "round_steps": 30,
                                                          "model_updates": 10}
    if name in IMITATION_ADVERSARIAL:
        sc_id, steps, hp = IMITATION_ADVERSARIAL[name]
        return scenarios.make(sc_id), steps, {k: (_demos() if v == "DEMOS" else v) for k, v in hp.items()}
    sc_id, _, hp, _, _ = {**CASES, **SLOW_CASES}[name]
    if name in SLOW_CASES:  # 100 gradient steps: enough to show determinism and the round trip
        return scenarios.make(sc_id), 300, {**hp, "learning_starts": 200}
    return scenarios.make(sc_id), 600, hp


@pytest.mark.parametrize("name", _marked(sorted(set(agents.list_names()) - {"random"}), SLOW_RAY))
def test_same_seed_gives_identical_results_and_save_load_round_trips(name, tmp_path):
    sc, steps, hp = _tiny(name)

    def run():
        ag = agents.make(name, sc, seed=3, **hp)
        ag.learn(steps)
        return ag, [r.team_return for r in testbed.evaluate(ag, sc, episodes=2, seed=7)]

    first, returns = run()
    assert run()[1] == returns
    loaded = agents.load(first.save(tmp_path / name), sc)
    again = [r.team_return for r in testbed.evaluate(loaded, sc, episodes=2, seed=7)]
    assert again == returns
    if hasattr(first, "policy_distribution"):
        _same_differentiable_views(first, loaded, sc)
    if not first.capabilities.needs_state:
        _single_observations_act_as_a_batch_of_one(loaded, sc)


def _single_observations_act_as_a_batch_of_one(agent, sc):
    """act() takes a PettingZoo dict of single observations, or a bare Gymnasium observation, as SB3's predict."""
    obs, _ = sc.vector(1, seed=11).reset()
    forget = getattr(agent, "reset_memory", lambda *a: None)
    forget()
    batched = agent.act(obs, deterministic=True)
    forget()
    single = agent.act({a: x[0] for a, x in obs.items()}, deterministic=True)
    assert set(single) == set(batched)
    for a in batched:
        np.testing.assert_array_equal(np.asarray(single[a]), np.asarray(batched[a])[0])
    if len(sc.possible_agents) == 1:
        (a,) = sc.possible_agents
        forget()
        np.testing.assert_array_equal(np.asarray(agent.act(obs[a][0], deterministic=True)), np.asarray(batched[a])[0])
        with pytest.raises(scenarios.UserError, match="fits neither shape expected"):
            agent.act(np.zeros((2, 3, 4, 5)))


def _params(dist):
    return dist.probs if hasattr(dist, "probs") else dist.mean


def _same_differentiable_views(first, loaded, sc):
    """The protocol's policy_distribution / value: batched, differentiable in the observation, restored by load."""
    for aid in sc.possible_agents:
        obs = torch.randn(5, int(np.prod(sc.observation_space(aid).shape)), generator=torch.Generator().manual_seed(0))
        try:
            dist = first.policy_distribution(aid, obs)
        except scenarios.UserError:  # a configuration without one view (e.g. a shared-parameter group): refused in a line
            continue
        assert dist.batch_shape[0] == 5
        torch.testing.assert_close(_params(loaded.policy_distribution(aid, obs)), _params(dist))
        x = obs.clone().requires_grad_(True)
        out = _params(first.policy_distribution(aid, x))
        weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))  # probabilities sum to 1: weight them
        (grad,) = torch.autograd.grad((out * weights).sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0  # the view depends on the observation
        try:
            v = first.value(aid, obs)
        except scenarios.UserError:
            continue
        assert v.shape == (5,)
        torch.testing.assert_close(loaded.value(aid, obs), v)


@pytest.mark.parametrize("name", _marked(sorted(set(agents.list_names()) - {"random"}), SLOW_RAY))
def test_every_method_runs_through_the_cli(name, tmp_path):
    sc, steps, hp = _tiny(name)
    spec = tmp_path / "scenario.yaml"
    import yaml

    spec.write_text(yaml.safe_dump(sc.spec.model_dump()))
    sets = [x for k, v in hp.items() for x in ("--set", f"{k}={v}")]
    runner = CliRunner()
    out = runner.invoke(app, ["train", name, str(spec), "--steps", str(max(steps, 1)), "--out", str(tmp_path / "ck"), *sets])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["evaluate", str(tmp_path / "ck"), str(spec), "--episodes", "1", "--db", str(tmp_path / "r.db")])
    assert out.exit_code == 0, out.output
    assert testbed.ResultsStore(tmp_path / "r.db").count() == 1


def test_unsupported_pairs_are_refused():
    with pytest.raises(scenarios.UserError, match="supports discrete actions only"):
        agents.make("dqn", "classic/Pendulum-v1")
    with pytest.raises(scenarios.UserError, match="supports discrete actions only"):
        agents.make("rainbow", "classic/Pendulum-v1")
    with pytest.raises(scenarios.UserError, match="needs a known transition model|needs discrete observations"):
        agents.make("value_iteration", "classic/CartPole-v1")
    with pytest.raises(scenarios.UserError, match="plans on MuJoCo tasks"):
        agents.make("mppi", "mujoco/Reacher-v5")


def test_value_iteration_matches_exact_optimal_values():
    vi = agents.make("value_iteration", "toytext/FrozenLake-v1")
    vi.learn(0)
    pi = agents.make("policy_iteration", "toytext/FrozenLake-v1")
    pi.learn(0)
    exact = pi.evaluate_policy(vi.q.argmax(axis=1))  # linear solve for the greedy policy's values
    np.testing.assert_allclose(vi.v, exact, atol=1e-6)
    np.testing.assert_allclose(pi.v, exact, atol=1e-6)
    assert vi.v[0] == pytest.approx(0.5420, abs=1e-3)  # FrozenLake 4x4, gamma 0.99


def test_dqn_linear_learning_rate_decays_to_zero_and_polyak_target_follows():
    import torch

    sc = scenarios.make("classic/CartPole-v1")
    ag = agents.make("double_dqn", sc, seed=0, **{**SMALL_DQN, "learning_rate": "lin_1e-3", "tau": 0.05})
    before = [p.detach().clone() for p in ag.target.parameters()]
    ag.learn(2_000)
    lr = ag.optimizer.param_groups[0]["lr"]
    assert 0 < lr < 1e-3 * 0.01  # decayed to ~0 by the end of the call
    # Polyak: the target moved, but is not a copy of the online network
    moved = [not torch.equal(a, b) for a, b in zip(before, ag.target.parameters())]
    same = [torch.equal(a, b) for a, b in zip(ag.online.parameters(), ag.target.parameters())]
    assert all(moved) and not any(same)
    hard = agents.make("double_dqn", sc, seed=0, **SMALL_DQN)
    hard.learn(1_000)  # hard copies every 250 steps, the last one after the final update
    assert hard.optimizer.param_groups[0]["lr"] == 1e-3
    assert all(torch.equal(a, b) for a, b in zip(hard.online.parameters(), hard.target.parameters()))
    with pytest.raises(scenarios.UserError, match=r"tau must be a number in \(0, 1\]"):
        agents.make("double_dqn", sc, tau=1.5)
    with pytest.raises(scenarios.UserError, match="lin_<number>"):
        agents.make("double_dqn", sc, learning_rate="linear")


@pytest.mark.parametrize("name", _marked(sorted(set(agents.list_names()) - {"random"}), SLOW_RAY))
def test_learn_zero_declares_no_budget_and_its_checkpoint_loads(name, tmp_path):
    """``learn(0)`` builds and steps nothing: it declares no ``total_steps`` (a zero declared there froze
    every schedule and failed the checkpoint's own check), and what it saves loads and acts; a step
    count that is not a whole number >= 0 is refused in one line."""
    sc, _, hp = _tiny(name)
    ag = agents.make(name, sc, seed=3, **hp)
    for bad in (-1, 2.5, "10"):
        with pytest.raises(scenarios.UserError, match="whole number of environment steps"):
            ag.learn(bad)
    ag.learn(0)
    assert getattr(ag, "hparams", {}).get("total_steps") is None
    try:
        saved = agents.save(ag, tmp_path / name)
    except scenarios.UserError as exc:  # a method whose model is built by its first steps says so in one line
        assert "call learn() first" in str(exc)
        return
    loaded = agents.load(saved, sc)
    assert len(testbed.evaluate(loaded, sc, episodes=1, seed=7)) == 1
