"""The batched particle backend gives mpe2's observations, rewards and flags, resets included, for every
scenario it implements and both action types; layers apply per copy; copy k of N is copy k alone;
what it does not implement is refused in one line (and ``auto`` falls back to mpe2)."""

import numpy as np
import pytest

import scenarios
from scenarios import UserError
from scenarios.batch.mpe_tasks import TASKS
from tests.test_batch_layers import CASES

VERSIONS = {"simple_spread": 3, "simple_speaker_listener": 4, "simple_reference": 3, "simple_adversary": 3,
            "simple_tag": 3, "simple_push": 3, "simple_crypto": 3, "simple_world_comm": 3}


def _spec(name, continuous, **kwargs):
    return {"id": f"mpe/{name}-parity-v0", "source": f"pettingzoo:mpe2.{name}_v{VERSIONS[name]}", "time_limit": 25,
            "kwargs": {"continuous_actions": continuous, **kwargs}}


def _actions(vec, rng, n):
    out = {}
    for a in vec.agents:
        space = vec.action_spaces[a]
        out[a] = rng.integers(0, space.n, n) if hasattr(space, "n") else rng.uniform(-0.2, 1.2, (n, *space.shape)).astype(np.float32)
    return out


def _compare(spec, n=3, steps=55, seed=11, layers=None):
    """Run mpe2 copies (the Gymnasium-copies face) and the batch side by side; the largest difference."""
    if layers:
        spec = {**spec, "layers": layers}
    sc = scenarios.make(spec)
    ref, bat = sc.vector(n, seed=seed, backend="gymnasium"), sc.vector(n, seed=seed, backend="batch")
    assert type(bat).__name__ == "ParticleVectorScenario"
    o1, i1 = ref.reset()
    o2, i2 = bat.reset()
    err = max(float(np.abs(o1[a] - o2[a]).max()) for a in o1)
    rng = np.random.default_rng(0)
    for t in range(steps):
        acts = _actions(ref, rng, n)
        r1, r2 = ref.step(acts), bat.step(acts)
        for a in ref.agents:
            err = max(err, float(np.abs(r1[0][a] - r2[0][a]).max()), float(np.abs(r1[1][a] - r2[1][a]).max()))
            np.testing.assert_array_equal(r1[2][a], r2[2][a])
            np.testing.assert_array_equal(r1[3][a], r2[3][a])
        for i in range(n):
            assert ("final_observation" in r1[4][i]) == ("final_observation" in r2[4][i])
            if "episode" in r1[4][i]:
                e1, e2 = r1[4][i]["episode"], r2[4][i]["episode"]
                assert e1["length"] == e2["length"] and set(e1["params"]) == set(e2["params"])
                for key, value in e1["params"].items():
                    np.testing.assert_allclose(value, e2["params"][key], rtol=1e-9)
                err = max(err, max(abs(e1["returns"][a] - e2["returns"][a]) for a in ref.agents))
                for a in ref.agents:
                    err = max(err, float(np.abs(r1[4][i]["final_observation"][a] - r2[4][i]["final_observation"][a]).max()))
    return err


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name", sorted(TASKS))
def test_parity_with_mpe2_over_whole_episodes_and_resets(name, continuous):
    assert _compare(_spec(name, continuous)) <= 1e-6


@pytest.mark.parametrize("name, kwargs", [("simple_spread", {"N": 5, "local_ratio": 0.2}),
                                          ("simple_spread", {"terminate_on_success": True}),
                                          ("simple_spread", {"max_cycles": 3}),
                                          ("simple_adversary", {"N": 3}),
                                          ("simple_tag", {"num_good": 2, "num_adversaries": 2, "num_obstacles": 3,
                                                          "terminate_on_success": True})])
def test_parity_with_constructor_arguments(name, kwargs):
    assert _compare(_spec(name, False, **kwargs), steps=30) <= 1e-6


def test_mpe2s_own_episode_length_is_every_faces_and_a_longer_or_empty_one_is_refused():
    sc = scenarios.make("mpe/simple_spread-v3", max_cycles=3)
    assert sc.time_limit == 3
    for backend in ("batch", "gymnasium"):
        vec = sc.vector(2, seed=0, backend=backend)
        vec.reset()
        ends = [vec.step({a: np.zeros(2, np.int64) for a in vec.agents})[3]["agent_0"].all() for _ in range(4)]
        assert ends == [False, False, True, False], backend
    assert scenarios.make("mpe/simple_spread-v3", max_cycles=40, time_limit=40).time_limit == 40
    with pytest.raises(UserError, match="episode length 40 .* longer than time_limit 25.*time_limit=40"):
        scenarios.make("mpe/simple_spread-v3", max_cycles=40)
    with pytest.raises(UserError, match="max_cycles must be an integer >= 1, got 0"):
        scenarios.make("mpe/simple_spread-v3", max_cycles=0)


MPE_DYNAMICS = [{"type": "mpe_dynamics", "params": {"parameters": [
    {"field": "mass", "low": 0.5, "high": 3.0}, {"field": "accel", "names": ["agent_0"], "low": 2, "high": 8},
    {"field": "size", "names": ["agent_1"], "low": 0.1, "high": 0.3}, {"field": "damping", "low": 0.1, "high": 0.5},
    {"field": "max_speed", "names": ["agent_2"], "operation": "set", "low": 0.2, "high": 0.5}]}}]
SIGNAL = {k: v for k, v in CASES.items() if k.split("@")[0].split("_")[0] in ("obs", "action", "reward")}


@pytest.mark.parametrize("case", ["mpe_dynamics", *sorted(SIGNAL)])
def test_every_layer_type_gives_the_mpe2_faces_episodes(case):
    layers = MPE_DYNAMICS if case == "mpe_dynamics" else SIGNAL[case]
    assert _compare(_spec("simple_spread", True), layers=layers, steps=30) <= 1e-5


def test_copy_k_of_n_equals_copy_k_alone():
    layers = [{"type": "mpe_dynamics", "params": {"parameters": [{"field": "mass", "low": 0.5, "high": 3.0},
                                                                 {"field": "size", "names": ["agent_0"], "low": 0.03, "high": 0.3}]}},
              {"type": "obs_gaussian_noise", "params": {"std": 0.05}}]
    sc = scenarios.make({**_spec("simple_tag", False), "layers": layers})
    many = sc.vector(8, seed=5, backend="batch")
    alone = sc.vector(1, seed=10, backend="batch")  # copy 5 of the batch is seeded 5 + 5
    o_many, _ = many.reset()
    o_one, _ = alone.reset()
    rng = np.random.default_rng(1)
    for _ in range(40):
        acts = _actions(many, rng, 8)
        o_many, r_many, *_ = many.step(acts)
        o_one, r_one, *_ = alone.step({a: v[5:6] for a, v in acts.items()})
        for a in many.agents:
            np.testing.assert_array_equal(o_many[a][5:6], o_one[a])
            np.testing.assert_array_equal(r_many[a][5:6], r_one[a])


def test_mass_randomization_changes_the_batch_physics():
    """A heavier agent moves less under the same pushes: the layer reaches the batch's per-copy masses."""
    def moved(factor):
        layer = {"type": "mpe_dynamics", "params": {"parameters": [
            {"field": "mass", "names": ["agent_0"], "distribution": "constant", "value": factor}]}}
        vec = scenarios.make({**_spec("simple_spread", True), "layers": [layer]}).vector(4, seed=0)
        obs, _ = vec.reset()
        push = {a: np.tile(np.array([0, 1, 0, 0, 0], np.float32), (4, 1)) for a in vec.agents}
        for _ in range(5):
            new, *_ = vec.step(push)
        return np.linalg.norm(new["agent_0"][:, 2:4] - obs["agent_0"][:, 2:4], axis=1)

    assert (moved(4.0) < 0.5 * moved(1.0)).all()


def test_it_is_the_default_face_and_refuses_what_it_does_not_implement():
    assert scenarios.make("mpe/simple_spread-v3").vector(2).backend == "batch"
    assert scenarios.make("mpe/simple_spread-v3").vector(2, backend="gymnasium").backend == "gymnasium"
    line = scenarios.make({"id": "mpe/simple_line-test-v0", "source": "pettingzoo:mpe2.simple_line_v1", "time_limit": 25})
    assert line.vector(2).backend == "gymnasium"  # auto falls back to mpe2
    with pytest.raises(UserError, match="not simple_line.*backend='gymnasium'"):
        line.vector(2, backend="batch")
    po = scenarios.make(_spec("simple_spread", False, num_agent_neighbors=1))
    assert po.vector(2).backend == "gymnasium"
    with pytest.raises(UserError, match="does not implement num_agent_neighbors"):
        po.vector(2, backend="batch")


def test_a_grid_over_particle_masses_runs_as_one_batch_with_the_mpe2_faces_returns():
    import agents
    from testbed.grid import evaluate_grid, parse_axis

    sc = scenarios.make("mpe/simple_spread-v3")
    policy = agents.make("spread_heuristic", sc)
    axes = [parse_axis("mass.agent_0=0.5:4:3"), parse_axis("damping@set=0.1:0.5:2")]
    batched = evaluate_grid(policy, sc, axes, episodes=3, seed=3)
    copies = evaluate_grid(policy, sc, axes, episodes=3, seed=3, backend="gymnasium")
    key = lambda r: (tuple(sorted(r.params["grid"].items())), r.seed)  # noqa: E731
    assert len(batched) == len(copies) == 3 * 7
    for a, b in zip(sorted(batched, key=key), sorted(copies, key=key)):
        assert key(a) == key(b) and a.team_return == pytest.approx(b.team_return, abs=1e-6)
    by_point = {key(r): r.team_return for r in batched}
    light, heavy = (by_point[((("damping@set", 0.1), ("mass.agent_0", m)), 3)] for m in (0.5, 4.0))
    assert light != pytest.approx(heavy)  # same episode seed, different physics
