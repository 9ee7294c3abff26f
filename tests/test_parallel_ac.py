"""A3C (Hogwild worker processes) and IMPALA (Ray rollout actors, V-trace): the V-trace
targets against the paper's definition, learning on tiny budgets, shared optimizer
statistics, policy lag, a killed worker mid-training, checkpoints that continue."""

import math
import os
import signal

import numpy as np
import pytest
import torch

import agents
import scenarios
from agents.vtrace import vtrace
from scenarios import UserError
from testbed.harness import evaluate
from tests.spec_runs import run_spec


# ----- V-trace ----------------------------------------------------------------------------------
def _vtrace_by_definition(mu, pi, r, disc, v, boot, rho_bar, c_bar):
    """v_s = V(x_s) + sum_{t>=s} (prod_{i<t} disc_i) (prod_{i=s}^{t-1} c_i) rho_t delta_t (Espeholt et al., eq. 1)."""
    T = len(r)
    ratio = [math.exp(p - m) for p, m in zip(pi, mu)]
    rho = [min(rho_bar, x) for x in ratio]
    c = [min(c_bar, x) for x in ratio]
    v_next = list(v[1:]) + [boot]
    delta = [rho[t] * (r[t] + disc[t] * v_next[t] - v[t]) for t in range(T)]
    vs = []
    for s in range(T):
        total, weight = 0.0, 1.0
        for t in range(s, T):
            total += weight * delta[t]
            weight *= disc[t] * c[t]
        vs.append(v[s] + total)
    vs_next = vs[1:] + [boot]
    pg = [rho[t] * (r[t] + disc[t] * vs_next[t] - v[t]) for t in range(T)]
    return vs, pg


def test_vtrace_matches_the_papers_definition_off_policy():
    mu = [-0.5, -1.2, -0.1, -2.0]
    pi = [-0.2, -1.5, -0.9, -0.3]  # ratios 1.35, 0.74, 0.45, 5.47: clipped and unclipped
    r, disc = [1.0, 0.0, 2.0, -1.0], [0.9, 0.9, 0.0, 0.9]  # an episode ends after step 2
    v, boot = [0.5, 1.0, -0.3, 0.8], 2.0
    expect_vs, expect_pg = _vtrace_by_definition(mu, pi, r, disc, v, boot, rho_bar=1.0, c_bar=0.9)
    col = lambda x: torch.tensor(x, dtype=torch.float64)[:, None]  # noqa: E731
    out = vtrace(col(mu), col(pi), col(r), col(disc), col(v), torch.tensor([boot], dtype=torch.float64), rho_bar=1.0, c_bar=0.9)
    np.testing.assert_allclose(out.vs[:, 0].numpy(), expect_vs, rtol=1e-12)
    np.testing.assert_allclose(out.pg_advantages[:, 0].numpy(), expect_pg, rtol=1e-12)


def test_vtrace_on_policy_is_the_n_step_return():
    logp = torch.tensor([[-0.7], [-0.1], [-2.3], [-0.4], [-1.0]])
    r = torch.tensor([[1.0], [2.0], [0.5], [-1.0], [3.0]])
    disc = torch.tensor([[0.9], [0.9], [0.0], [0.9], [0.9]])  # terminated after step 2
    v, boot = torch.tensor([[0.3], [0.1], [0.7], [-0.2], [0.4]]), torch.tensor([1.5])
    out = vtrace(logp, logp, r, disc, v, boot)
    g, expect = 1.5, []
    for t in range(4, -1, -1):
        g = float(r[t, 0]) + float(disc[t, 0]) * g
        expect.append(g)
    np.testing.assert_allclose(out.vs[:, 0].numpy(), expect[::-1], rtol=1e-6)


# ----- A3C ---------------------------------------------------------------------------------------
def _mean_return(agent, scenario_id, episodes=10):
    return float(np.mean([r.team_return for r in evaluate(agent, scenario_id, episodes=episodes, seed=1000)]))


def test_a3c_learns_cartpole_on_a_tiny_budget():
    # one worker: reproducible from the seed (two interleave by timing; their shared updates are tested below)
    ag = agents.make("a3c", "classic/CartPole-v1", seed=0, n_workers=1, n_envs=8)
    ag.learn(40_000)
    assert ag.steps_trained >= 40_000
    assert _mean_return(ag, "classic/CartPole-v1") > 100  # random: ~22


@pytest.mark.slow  # 11 s; a3c's tiny-budget learning test and catalog round trip stay in the default run
def test_a3c_workers_share_one_optimizer_state():
    ag = agents.make("a3c", "classic/CartPole-v1", seed=0, n_workers=2, n_envs=2, n_steps=5)
    ag.learn(4_000)
    steps = [float(s["step"]) for s in ag.optimizer.state.values()]
    updates = ag.steps_trained / (2 * 5)  # every worker update consumes n_envs x n_steps steps
    assert steps and all(abs(s - updates) <= 2 for s in steps), (steps, updates)  # not 0: the workers' steps are seen here


@pytest.mark.slow  # 24 s: continuous actions and teams run through the same worker loop as the CartPole tests
def test_a3c_continuous_and_cooperative_multi_agent_run():
    ag = agents.make("a3c", "mujoco/InvertedPendulum-v5", seed=0, n_workers=1, n_envs=8)
    ag.learn(30_000)
    assert _mean_return(ag, "mujoco/InvertedPendulum-v5") > 20  # random: ~5
    team = agents.make("a3c", "mpe/simple_spread-v3", seed=0, n_envs=2)
    team.learn(2_000)
    acts = team.act({a: np.zeros((3, *team.scenario.observation_space(a).shape), np.float32) for a in team.scenario.possible_agents})
    assert set(acts) == set(team.scenario.possible_agents) and all(len(a) == 3 for a in acts.values())


@pytest.mark.slow  # 15 s; the default run keeps a3c's save/load round trip in tests/test_agents_catalog.py
def test_a3c_checkpoint_restores_policy_and_optimizer(tmp_path):
    ag = agents.make("a3c", "classic/CartPole-v1", seed=1, n_envs=2)
    ag.learn(3_000)
    ag.save(tmp_path / "a3c")
    back = agents.load(tmp_path / "a3c")
    obs = {"agent_0": np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)}
    np.testing.assert_array_equal(ag.act(obs)["agent_0"], back.act(obs)["agent_0"])
    before = {k: float(s["step"]) for k, s in zip(range(99), back.optimizer.state.values())}
    assert before == {k: float(s["step"]) for k, s in zip(range(99), ag.optimizer.state.values())}
    back.learn(2_000)  # continues on the restored, re-shared optimizer state
    assert all(float(s["step"]) > before[k] for k, s in zip(range(99), back.optimizer.state.values()))
    assert back.steps_trained >= 5_000


def test_bad_a3c_values_are_one_line():
    with pytest.raises(UserError, match="optimizer must be one of adam, rmsprop, got 'sgd'"):
        agents.make("a3c", "classic/CartPole-v1", optimizer="sgd")
    with pytest.raises(UserError, match=r"n_workers must be an integer in \[1, 1024\], got 0"):
        agents.make("a3c", "classic/CartPole-v1", n_workers=0)
    with pytest.raises(UserError, match="spaces must match"):
        agents.make("a3c", "mpe/simple_speaker_listener-v4")


# ----- IMPALA ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for the module (the learner uses it instead of starting its own)."""
    from agents.runtime import start_ray

    ray, started = start_ray(3, None, "the impala tests")
    yield ray
    if started:
        ray.shutdown()


def test_a_local_ray_instance_listens_on_loopback_only(ray_instance):
    assert {n["NodeManagerAddress"] for n in ray_instance.nodes()} == {"127.0.0.1"}
    assert ray_instance.get_runtime_context().gcs_address.startswith("127.0.0.1:")


@pytest.mark.slow  # 18-24 s; impala's workers, lag, resume and killed-worker tests train it in the default run
def test_impala_learns_cartpole_on_a_tiny_budget(ray_instance):
    ag = agents.make("impala", "classic/CartPole-v1", seed=0)
    ag.learn(60_000)
    assert ag.steps_trained >= 60_000
    assert _mean_return(ag, "classic/CartPole-v1") > 100  # random: ~22
    lags = [row["policy_lag"] for row in ag.history]
    assert min(lags) >= 0 and max(lags) >= 1  # two workers: a rollout is often one update behind


@pytest.mark.timeout(120)  # the old code waited forever: a regression fails here instead of hanging the run
def test_impala_refuses_workers_the_ray_cluster_cannot_place(ray_instance):
    """Actors asking for more CPUs than the cluster has were never scheduled: learn waited forever. A
    local instance impala starts itself is sized to fit its workers."""
    ag = agents.make("impala", "classic/CartPole-v1", seed=0, n_workers=2, worker_cpus=2.0)
    with pytest.raises(UserError, match=r"2 workers x worker_cpus 2.0 need 4 CPUs; the Ray cluster has 3"):
        ag.learn(10)


def test_impala_with_one_worker_has_no_policy_lag(ray_instance):
    ag = agents.make("impala", "classic/CartPole-v1", seed=0, n_workers=1, n_envs=4)
    ag.learn(2_000)
    assert {row["policy_lag"] for row in ag.history} == {0.0}


@pytest.mark.parametrize("restarts", [pytest.param(1, marks=pytest.mark.slow), 0])
def test_impala_survives_a_killed_worker_and_counts_each_trajectory_once(ray_instance, restarts):
    ag = agents.make("impala", "classic/CartPole-v1", seed=0, n_workers=2, n_envs=4, unroll_length=10,
                     max_worker_restarts=restarts)
    killed = []

    def kill_one(learner, workers):
        if len(learner.history) == 5 and not killed:
            pid = ray_instance.get(next(iter(workers.values())).pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    ag.on_rollout = kill_one
    ag.learn(4_000)
    assert killed
    per_rollout = 10 * 4
    assert ag.steps_trained == per_rollout * len(ag.history)  # one update per received rollout, none twice
    assert ag.steps_trained >= 4_000 and ag.steps_trained < 4_000 + per_rollout
    assert ag.worker_restarts == restarts
    assert ag.history[-1]["worker_restarts"] == restarts


def test_impala_resumes_from_a_saved_training_state(ray_instance, tmp_path):
    """The workers' carried states came from Ray's object store as read-only arrays, which a training state
    leaves out: after ``load(..., resume=True)`` they were None and the first resumed rollout failed."""
    sc = scenarios.make("classic/CartPole-v1", time_limit=20)
    ag = agents.make("impala", sc, seed=0, n_workers=1, n_envs=2, unroll_length=10)
    ag.learn(40)
    resumed = agents.load(agents.save(ag, tmp_path / "impala", training_state=True), sc, resume=True)
    (tree, arrays), _ = resumed._workers[0]
    assert arrays and all(isinstance(a, np.ndarray) for a in arrays.values())
    resumed.learn(40)
    assert resumed.steps_trained == 80


@pytest.mark.slow  # 17 s; the default run keeps impala's tiny-budget learning and killed-worker tests
def test_impala_checkpoint_continues_training(ray_instance, tmp_path):
    ag = agents.make("impala", "classic/CartPole-v1", seed=2, n_envs=4)
    ag.learn(2_000)
    ag.save(tmp_path / "impala")
    back = agents.load(tmp_path / "impala")
    obs = {"agent_0": np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)}
    np.testing.assert_array_equal(ag.act(obs)["agent_0"], back.act(obs)["agent_0"])
    assert back.version == ag.version > 0
    back.learn(1_000)
    assert back.version > ag.version and back.steps_trained >= 3_000


# ----- through an experiment spec ---------------------------------------------------------------
@pytest.mark.slow  # 16 s; the spec path is the one every agent takes (tests/test_experiments.py)
def test_a3c_in_an_experiment_spec_stores_records_and_tensorboard_logs(tmp_path):
    assert {"train/episode_return", "eval/mean_team_return"} <= run_spec(tmp_path, "a3c", {"n_envs": 2, "n_workers": 1})


@pytest.mark.slow  # a Ray start inside the job's process: ~40-90 s on a loaded 2-core machine
def test_impala_in_an_experiment_spec_stores_records_and_tensorboard_logs(tmp_path):
    tags = run_spec(tmp_path, "impala", {"n_envs": 2, "unroll_length": 10})
    assert {"train/episode_return", "train/policy_lag", "eval/mean_team_return"} <= tags


def test_gradient_attacks_reach_a3c_through_the_protocol():
    from agents.adversarial.attacks import ObservationAttack

    ag = agents.make("a3c", "mujoco/InvertedPendulum-v5", seed=0, n_workers=1, n_envs=2)
    ag.learn(1_000)
    std = {"agent_0": np.ones(4)}
    obs = {"agent_0": np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)}
    before = [p.detach().clone() for p in ag.model.parameters()]
    for kind in ("pgd", "critic"):
        attack = ObservationAttack(kind, 0.1, ag, std, steps=3)
        delta = attack.perturb(obs)["agent_0"] - obs["agent_0"]
        assert np.abs(delta).max() <= 0.1 + 1e-6 and np.abs(delta).max() > 0.05
    assert all(p.grad is None or not p.grad.any() for p in ag.model.parameters())  # the attack never touched .grad
    assert all(torch.equal(a, b) for a, b in zip(before, ag.model.parameters()))


def test_without_ray_impala_and_the_ray_executor_name_the_extra(monkeypatch, tmp_path):
    import sys

    from typer.testing import CliRunner

    from agents.runtime import import_ray, start_ray
    from testbed.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # as in a plain install, where Ray is the ray extra
    with pytest.raises(UserError, match=r"impala needs Ray, the ray extra: pip install 'testbed\[ray\]'"):
        agents.make("impala", "classic/CartPole-v1")
    with pytest.raises(UserError, match=r"--executor ray needs Ray, the ray extra"):
        start_ray(1, None)
    with pytest.raises(UserError, match=r"the kill benchmark needs Ray, the ray extra"):
        import_ray("the kill benchmark")
    out = CliRunner().invoke(app, ["train", "impala", "classic/CartPole-v1", "--steps", "10", "--out", str(tmp_path / "x")])
    assert out.exit_code == 2 and "pip install 'testbed[ray]'" in out.output  # the brackets survive rich markup


def test_a_ray_address_where_nothing_listens_is_refused_at_once(monkeypatch):
    """``ray.init`` retried a closed port for minutes (impala's ``ray_address`` and ``--ray-address``
    hung); one TCP connection refuses it first, in one line."""
    import socket

    from agents import runtime

    ray = runtime.import_ray("the test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh process (the module's instance aside)
    monkeypatch.setattr(ray, "init", lambda **kwargs: pytest.fail("ray.init was reached"))
    with pytest.raises(UserError, match=rf"cannot connect to Ray at 127.0.0.1:{port}: nothing answers there"):
        runtime.start_ray(2, f"127.0.0.1:{port}", needed_by="impala")
    assert runtime.unreachable("auto") is None and runtime.unreachable("ray://127.0.0.1:1") is None


def test_an_a3c_worker_hands_its_exception_to_the_learner_instead_of_printing_it(monkeypatch, capsys):
    """A worker's exception (a NaN distribution once the shared network diverged) was printed as a torch
    traceback beside the learner's one-line refusal; it now goes to the learner, which raises it (and the
    divergence guard turns a diverged network's into its one line)."""
    import queue

    from agents import a3c

    def fail(*args, **kwargs):
        raise ValueError("Expected parameter loc to satisfy the constraint Real(), but found invalid values")

    monkeypatch.setattr(a3c, "_work", fail)
    errors = queue.Queue()
    with pytest.raises(SystemExit) as exit_:
        a3c._worker(0, None, 0, {}, None, None, None, 10, None, os.getpid(), errors=errors)
    rank, text = errors.get_nowait()
    assert exit_.value.code == 1 and rank == 0 and "ValueError: Expected parameter loc" in text
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow  # 6 s: a worker process
def test_a_diverged_a3c_is_one_line_without_a_worker_traceback(capfd):
    ag = agents.make("a3c", "classic/Pendulum-v1", seed=0, n_workers=1, n_envs=2, learning_rate=1e6)
    with pytest.raises(UserError, match="a3c diverged during training"):
        ag.learn(400)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.slow  # 2.1 s: building multiwalker
def test_an_impala_worker_on_box2d_copies_hands_back_no_state_instead_of_failing():
    """impala (and a3c) carried each worker's copies to the next learn call through the training-state
    capture, which refuses Box2D simulations: learn on sisl/multiwalker raised that UserError after
    check_fits had accepted the pair. Such a worker now hands back no state; the next call starts new episodes."""
    from agents.impala import RolloutWorker

    ag = agents.make("impala", scenarios.make("sisl/multiwalker-v9", time_limit=10), seed=0, n_workers=1, n_envs=1)
    worker = RolloutWorker(ag.scenario, 0, ag.hparams)
    assert worker.state() is None


@pytest.mark.slow
def test_a3c_learns_twice_on_box2d_copies():
    """a3c's workers captured their multiwalker copies at the end of learn: a UserError from inside learn."""
    ag = agents.make("a3c", scenarios.make("sisl/multiwalker-v9", time_limit=10), seed=0, n_workers=1, n_envs=1, n_steps=5)
    ag.learn(40)
    ag.learn(40)
    assert ag.steps_trained >= 80


@pytest.mark.parametrize("name", ["a3c", "impala"])
def test_goal_conditioned_dict_observations_reach_the_parallel_learners_flattened(name):
    """a3c and impala asked for a goal_flatten layer on the goal tasks SB3's ppo takes; their lanes flatten goal
    Dicts (scenarios.goals.flatten) as fast_ppo's do (a 64-step a3c and impala run on FetchReach-v4, saved and
    loaded, was checked by hand: ~20 s with the workers' start)."""
    from agents.actor_critic import Lanes
    from agents.registry import check_fits
    from scenarios.goals import flatten

    sc = scenarios.make("robotics/FetchReach-v4")
    check_fits(name, sc, {})  # refused before ("add the goal_flatten layer")
    obs, _ = sc.vector(2, seed=1).reset()
    lanes = Lanes(sc, name, agent_id=True)
    np.testing.assert_array_equal(lanes.obs(obs).numpy(), flatten(sc.observation_space("agent_0"), obs["agent_0"]).astype(np.float32))
