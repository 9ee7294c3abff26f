"""Inputs nobody tuned for, found by sweeping every layer, family and command: each is refused in
one line naming the problem (or, where it is valid, works) instead of ending in a traceback."""

from __future__ import annotations

import numpy as np
import pytest

import agents
import testbed
import scenarios
from scenarios import UserError

from cli_inprocess import run_inprocess

HOPPER = "mujoco/Hopper-v5"


@pytest.mark.parametrize("call", [
    lambda: scenarios.make("classic/CartPole-v1", seed=-1),
    lambda: scenarios.make("classic/CartPole-v1").reset(seed=-1),
    lambda: scenarios.make("classic/CartPole-v1").vector(2, seed=2**70),
    lambda: agents.make("random", "classic/CartPole-v1", seed=-1),
    lambda: agents.make("random", "classic/CartPole-v1", seed=1.5),
])
def test_a_seed_outside_0_to_2_63_is_refused(call):
    """Gymnasium raised its own error for a negative seed, torch an OverflowError for a huge one."""
    with pytest.raises(UserError, match=r"^seed must be an integer from 0 to 9223372036854775807"):
        call()


@pytest.mark.parametrize("name,sid,hp", [
    ("ppo", "classic/CartPole-v1", {"n_envs": 2, "n_steps": 32, "batch_size": 32}),
    ("fast_ppo", "classic/CartPole-v1", {"n_envs": 2, "n_steps": 32, "batch_size": 32}),
    ("double_dqn", "classic/CartPole-v1", {"n_envs": 2, "learning_starts": 20}),
    ("qmix", "mpe/simple_spread-v3", {"n_envs": 2, "learning_starts": 20}),
    ("a3c", "classic/CartPole-v1", {"n_workers": 1, "n_envs": 2, "n_steps": 5})])
def test_the_largest_seed_trains_and_evaluates(name, sid, hp):
    """Copy k is seeded seed + k, A3C's workers seed x 1,000,003 + ..., and SB3 seeds NumPy's legacy
    generator (below 2**32): at the top seed each failed during training. Derived seeds now fold into
    the valid range (``scenarios.errors.wrap_seed``; SB3's through ``sb3_seed``)."""
    top = 2**63 - 1
    ag = agents.make(name, sid, seed=top, **hp)
    ag.learn(64)
    assert len(testbed.evaluate(ag, sid, episodes=2, seed=top)) == 2


def test_the_cli_refuses_the_seeds_the_packages_refuse():
    """The CLI declares its --seed bound without importing the packages (start-up time): the same number."""
    from scenarios.errors import MAX_SEED
    from testbed import cli

    assert cli.MAX_SEED == MAX_SEED


@pytest.mark.parametrize("layer,match", [
    ({"type": "action_gain", "params": {"value": [1, 2]}}, r"2 gains given but agent_0's actions have shape \(3,\)"),
    ({"type": "dynamics", "params": {"parameters": [{"field": "body_mass", "names": [], "low": 0.5, "high": 1}]}},
     r"'parameters.0.names': List should have at least 1 item"),
    ({"type": "obs_gaussian_noise", "params": {"std": {"kind": "sine", "low": 0, "high": 0.2, "period": 0}}},
     r"'std.period': Input should be greater than 0"),
    ({"type": "obs_gaussian_noise", "params": {"std": {"kind": "random_walk", "low": 0, "high": 1}}},
     r"'std': Value error, schedule 'random_walk' needs step_std"),  # was hidden behind 'std.float'
])
def test_layer_parameters_that_do_not_fit_are_refused_in_one_line(layer, match):
    with pytest.raises(UserError, match=match) as e:
        scenarios.make(HOPPER, layers=[layer]).reset()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("sid,kwargs,match", [
    ("mpe/simple_spread-v3", {"local_ratio": 2}, "local_ratio is a proportion"),  # mpe2's AssertionError
    ("mpe/simple_spread-v3", {"N": 0}, "zero-size array"),  # NumPy's ValueError inside mpe2
    ("sisl/pursuit-v5", {"n_pursuers": 0}, "list index out of range"),
    ("matrix/prisoners_dilemma-v0", {"noise": 0.1}, "unexpected keyword argument 'noise'"),  # was a TypeError
])
def test_a_source_rejecting_its_kwargs_values_is_one_line(sid, kwargs, match):
    with pytest.raises(UserError, match=rf"^source '.+' rejected kwargs .*{match}"):
        scenarios.make(sid, **kwargs)


@pytest.mark.parametrize("sid,kwargs,match", [
    ("classic/Pendulum-v1", {"g": "abc"}, "kwarg g takes a number, got 'abc'"),  # built, then failed at step 1
    ("mpe/simple_spread-v3", {"N": 2.5}, "kwarg N takes an integer, got 2.5"),
    ("mpe/simple_spread-v3", {"continuous_actions": "yes"}, "kwarg continuous_actions takes true or false"),
    ("mujoco/Hopper-v5", {"healthy_reward": True}, "kwarg healthy_reward takes a number, got True"),
])
def test_a_kwarg_of_the_wrong_kind_is_refused_before_the_source_is_built(sid, kwargs, match):
    with pytest.raises(UserError, match=rf"^source '.+': {match}") as e:
        scenarios.make(sid, **kwargs)
    assert "\n" not in str(e.value)


def test_every_registered_sources_own_defaults_pass_the_kwarg_check():
    """Across the whole registry: a constructor's defaults, given back as kwargs, are never refused by the
    kind check (no false refusals), and each source with named parameters has at least one checked."""
    import inspect

    from scenarios.sources.kwarg_types import _expected, check_kwarg_types, constructor

    sources = sorted({scenarios.get_spec(sid).source for sid in scenarios.list_ids()})
    checked = 0
    for source in sources:
        ctor = constructor(source)
        if ctor is None:
            continue
        params = inspect.signature(ctor).parameters.values()
        defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        check_kwarg_types(source, ctor, defaults)
        checked += any(_expected(p) for p in params)
    assert len(sources) > 60 and checked > 60, (len(sources), checked)  # 66 of 69 (2026-12-07)


def test_every_registered_scenario_builds_with_its_sources_defaults_given_as_kwargs():
    """Across the registry: the kind check and the probe's reset and step refuse nothing the
    source's own defaults (plus the spec's kwargs) describe (136 scenarios, 3-7 s, 2026-12-07)."""
    import inspect

    from scenarios.sources.kwarg_types import _expected, constructor

    built = 0
    for sid in scenarios.list_ids():
        spec = scenarios.get_spec(sid)
        ctor = constructor(spec.source)
        if ctor is None:
            continue
        kwargs = {p.name: p.default for p in inspect.signature(ctor).parameters.values()
                  if _expected(p) and p.default is not inspect.Parameter.empty
                  and p.name not in ("max_cycles", "max_episode_steps", "render_mode")}
        if kwargs or spec.kwargs:
            scenarios.make(sid, **{**kwargs, **spec.kwargs}).reset(seed=0)
            built += 1
    assert built > 100, built


@pytest.mark.parametrize("sid,kwargs,match", [
    ("mpe/simple_world_comm-v3", {"num_food": 0}, "min\\(\\) arg is an empty sequence"),  # mpe2, at the first step
    ("mujoco/Hopper-v5", {"frame_skip": 0}, "division by zero"),  # Gymnasium, at the first step
])
def test_kwargs_the_library_fails_on_only_once_the_world_moves_are_refused_when_built(sid, kwargs, match):
    with pytest.raises(UserError, match=rf"^source '.+' rejected kwargs .*{match}"):
        scenarios.make(sid, **kwargs)


def test_the_kwargs_probe_leaves_seeded_episodes_and_kinds_it_cannot_judge_alone():
    """An unannotated integer default takes a float (MountainCarContinuous's goal_velocity); the probe's
    reset and step do not change what a seeded episode gives (kwargs equal to the defaults vs none)."""
    scenarios.make("classic/MountainCarContinuous-v0", goal_velocity=0.5).reset(seed=0)
    runs = []
    for kwargs in ({}, {"N": 3, "local_ratio": 0.5}):
        vec = scenarios.make("mpe/simple_spread-v3", **kwargs).vector(2, seed=3, backend="gymnasium")
        obs, _ = vec.reset()
        steps = [obs] + [vec.step({a: np.full(2, k % 5, np.int64) for a in obs})[0] for k in range(6)]
        runs.append(np.concatenate([np.concatenate([o[a] for a in sorted(o)], 1) for o in steps]))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_world_comm_without_forests_steps_on_both_faces_alike():
    """The batched backend indexed with an empty float array (no forests) and crashed."""
    out = {}
    for backend in ("batch", "gymnasium"):
        vec = scenarios.make("mpe/simple_world_comm-v3", num_forests=0).vector(2, seed=0, backend=backend)
        obs, _ = vec.reset()
        rewards = [vec.step({a: np.zeros(2, np.int64) for a in obs})[1] for _ in range(5)]
        out[backend] = np.array([[r[a] for a in sorted(r)] for r in rewards])
    np.testing.assert_allclose(out["batch"], out["gymnasium"], atol=1e-6)


def test_experiment_specs_refuse_repeated_and_negative_seeds_and_repeated_scenarios(tmp_path):
    for name, body, match in [
        ("dup", "seeds: [3, 3]\nscenarios: [classic/CartPole-v1]", "field 'seeds': 3 is given twice"),
        ("neg", "seeds: [-1]\nscenarios: [classic/CartPole-v1]", "field 'seeds.0': Input should be greater than or equal to 0"),
        ("scn", "seeds: [0]\nscenarios: [classic/CartPole-v1, classic/CartPole-v1]", "field 'scenarios': .* is given twice"),
        ("grid", "seeds: [0]\nscenarios: [classic/CartPole-v1]\ngrids: [[]]", "field 'grids.0': List should have at least 1"),
    ]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"name: {name}\nagents: [{{name: random}}]\ntrain_steps: 0\n{body}\n")
        r = run_inprocess("run", str(path), "--db", str(tmp_path / "x.db"), cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert __import__("re").search(match, r.stderr), r.stderr


def test_a_path_that_cannot_be_written_is_one_line(tmp_path):
    db = tmp_path / "good.db"
    assert run_inprocess("evaluate", "random", "classic/CartPole-v1", "--episodes", "2", "--db", str(db), cwd=tmp_path).returncode == 0
    r = run_inprocess("report", str(db), "--out", str(db), cwd=tmp_path)  # an existing file where a folder goes
    assert r.returncode == 2 and "Traceback" not in r.stderr and "(choose another path)" in r.stderr, r.stderr
    r = run_inprocess("evaluate", "random", "classic/CartPole-v1", "--seed", "-5", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: Invalid value for '--seed'"), r.stderr


def test_recording_demonstrations_on_a_goal_task_is_refused_in_one_line():
    """The recorder indexed the goal Dict as an array (KeyError: 0) on every goal-conditioned task."""
    from agents.imitation import dataset

    with pytest.raises(UserError, match=r"^goals/BitFlipping-v0 has goal-conditioned \(Dict\) observations"):
        dataset.record(agents.make("random", "goals/BitFlipping-v0", seed=0), episodes=1)


@pytest.mark.parametrize("args,match", [
    (["tune", "ppo", "classic/CartPole-v1", "--storage", "bogus://x", "--trials", "1", "--steps", "100"],
     "cannot open the study storage 'bogus://x': Can't load plugin"),  # SQLAlchemy's NoSuchModuleError
    (["sim2real", "os:path", "--episodes", "1", "--steps", "0", "--agent", "random"], "os:path is not a class"),
    (["evaluate", "random", "classic/CartPole-v1", "--envs", "1000000000"], "Invalid value for '--envs': Input should be "
     "less than or equal to 100000"),  # 10^9 copies were built one by one for days
])
def test_commands_refuse_a_wrong_kind_of_target_in_one_line(args, match, tmp_path):
    r = run_inprocess(*args, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and match in r.stderr, r.stderr


def test_a_malformed_minari_id_is_refused_in_one_line():
    pytest.importorskip("minari")
    from agents.imitation import dataset

    ds = dataset.record(agents.make("random", "classic/CartPole-v1", seed=0), episodes=1)
    with pytest.raises(UserError, match=r"^Minari refuses the dataset id 'bad name'"):
        dataset.to_minari(ds, "bad name")


def test_a_grid_with_one_parameter_on_two_axes_or_too_many_points_is_refused():
    """Two axes on one parameter reported an N x M grid whose points had merged (their labels collide);
    a 10^6-point grid was killed for memory after minutes, printing nothing."""
    from testbed.grid import grid_points, parse_axis

    with pytest.raises(UserError, match=r"set the same parameter"):
        grid_points([parse_axis("body_mass.pole=0.5:3:2"), parse_axis("body_mass.pole=1:2:2")])
    with pytest.raises(UserError, match=r"the grid has 1000000 points, more than 100000"):
        grid_points([parse_axis("body_mass.pole=0.5:3:1000"), parse_axis("geom_friction=0.5:2:1000")])
    assert len(grid_points([parse_axis("body_mass.pole=0.5:3:2"), parse_axis("geom_friction=0.5:2:3")])) == 6


def test_a_results_store_changed_outside_the_testbed_is_read_or_refused_in_one_line(tmp_path):
    """NULL in a JSON column (what the schema migration writes for a column an older store lacked)
    and hand-edited JSON ended in TypeError/JSONDecodeError in ``results`` and ``report``."""
    import sqlite3

    from testbed.store import ResultsStore

    db = tmp_path / "r.db"
    assert run_inprocess("evaluate", "random", "classic/CartPole-v1", "--episodes", "2", "--db", str(db), cwd=tmp_path).returncode == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE episodes SET params = NULL")
    con.commit()
    assert len(ResultsStore(db).records()) == 2  # the record's default
    con.execute("UPDATE episodes SET params = '{bad' WHERE row_id = 1")
    con.commit()
    with pytest.raises(UserError, match=r"an episode's 'params' column is not readable"):
        ResultsStore(db).records()
    r = run_inprocess("report", str(db), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.commit()
    with pytest.raises(UserError, match=r"written by a newer testbed \(results schema 999"):
        ResultsStore(db)


@pytest.mark.parametrize("backend", ["auto", "gymnasium"])
@pytest.mark.parametrize("sid", ["mpe/simple_spread-v3", HOPPER])
def test_a_batch_stepped_with_missing_or_mis_sized_actions_says_so(sid, backend):
    """A missing agent was a KeyError deep in the batch, a wrong batch size NumPy's broadcast error (on
    the per-copy face: an IndexError after the first copies had stepped)."""
    vec = scenarios.make(sid).vector(4, seed=0, backend=backend)
    obs, _ = vec.reset()
    with pytest.raises(UserError, match=r"^step: no actions for agent_0"):
        vec.step({})
    space = vec.action_space(next(iter(obs))) if hasattr(vec, "action_space") else None
    bad = {a: np.zeros((3, *np.shape(space.sample() if space is not None else 0))) for a in obs}
    with pytest.raises(UserError, match=r"the batch has 4 copies"):
        vec.step(bad)


@pytest.mark.parametrize("backend", ["auto", "gymnasium"])
@pytest.mark.parametrize("sid,agent,bad,match", [
    ("mpe/simple_spread-v3", "agent_0", [5, 0, 0, 0], r"include 5 \(valid: integers 0..4\)"),
    ("mpe/simple_reference-v3", "agent_1", [0, -1, 0, 0], r"include -1 \(valid: integers 0..49\)"),
    ("mpe/simple_speaker_listener-v4", "speaker_0", [0, 0, 3, 0], r"include 3 \(valid: integers 0..2\)"),
    ("mpe/simple_spread-v3", "agent_2", [1.0, 0.0, 0.0, 0.0], r"are float64 \(valid: integers 0..4\)"),
    ("mpe/simple_spread_continuous-v3", "agent_1", [[0.0, float("nan"), 0.0, 0.0, 0.0]] * 4, "include NaN or infinity"),
    (HOPPER, "agent_0", [[0.0, float("inf"), 0.0]] * 4, "include NaN or infinity")])
def test_actions_outside_their_space_are_refused_alike_on_every_face(sid, agent, bad, match, backend):
    """mpe2's own check was a bare assertion on the copies face; the particle batch read a 5 as a no-op
    (5 mod 5), accepted -1, and failed with an IndexError for a speaker's 3."""
    vec = scenarios.make(sid).vector(4, seed=0, backend=backend)
    obs, _ = vec.reset()
    acts = {a: np.stack([vec.action_spaces[a].sample() for _ in range(4)]) for a in vec.agents}
    acts[agent] = np.array(bad)
    with pytest.raises(UserError, match=f"^step: {agent}'s actions {match}"):
        vec.step(acts)
