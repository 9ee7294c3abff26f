"""Episodes whose MuJoCo physics blew up (and was reset by MuJoCo), or whose return came out NaN or infinite on any
source, are flagged, stored, and kept out of worst cases."""

import numpy as np
import pytest

import agents
import scenarios
import testbed
from scenarios import UserError
from testbed.grid import evaluate_grid, parse_axis, robustness
from testbed.study import grid_study
from testbed.store import ResultsStore
from testbed.worst_case import parse_box, search


def gravity(z: float) -> dict:
    return {"type": "dynamics", "params": {"parameters": [
        {"field": "gravity", "component": 2, "operation": "set", "distribution": "constant", "value": z}]}}


def _episodes(sid: str, layers: list, backend: str, count: int = 2) -> list[dict]:
    vec = scenarios.make(sid, layers=layers).vector(2, seed=0, backend=backend)
    vec.reset()
    eps: list[dict] = []
    for _ in range(1000):
        acts = {a: np.zeros((2, *vec.action_spaces[a].shape), vec.action_spaces[a].dtype) for a in vec.agents}
        eps += [i["episode"] for i in vec.step(acts)[4] if "episode" in i]
        if len(eps) >= count:
            return eps
    raise AssertionError("episodes did not end")


@pytest.mark.parametrize("backend", ["batch", "gymnasium"])
def test_both_faces_flag_an_episode_whose_physics_blew_up(backend):
    """Gravity 1e30: MuJoCo resets the state mid-step; Hopper 'returns' -6.8e33. Nominal: not flagged."""
    blown = _episodes("mujoco/Hopper-v5", [gravity(-1e30)], backend)
    assert all(e["unstable"] is True for e in blown) and blown[0]["returns"]["agent_0"] < -1e30
    assert all(e["unstable"] is False for e in _episodes("mujoco/Hopper-v5", [gravity(-9.81)], backend))
    assert all(e["unstable"] is True for e in _episodes("mamujoco/HalfCheetah-2x3-v1", [gravity(-1e30)], backend))


def test_sources_without_mujoco_report_no_flag():
    for backend in ("batch", "gymnasium"):
        assert all(e["unstable"] is None for e in _episodes("mpe/simple_spread-v3", [], backend))
    assert all(e["unstable"] is None for e in _episodes("classic/CartPole-v1", [], "gymnasium"))


@pytest.mark.parametrize("backend", ["batch", "gymnasium"])
def test_a_particle_world_whose_return_overflows_is_flagged_too(backend):
    """MPE under size x 1e300 (every entity overlaps every other) "returned" -inf with no flag (only MuJoCo's resets
    were seen), so a grid or a worst-case search took -inf as a measurement."""
    size = {"type": "mpe_dynamics", "params": {"parameters": [{"field": "size", "distribution": "constant", "value": 1e300}]}}
    blown = _episodes("mpe/simple_spread-v3", [size], backend)
    assert all(e["unstable"] is True and not np.isfinite(e["returns"]["agent_0"]) for e in blown)


def test_the_flag_is_stored_and_a_worst_case_search_leaves_unstable_points_out(tmp_path):
    sc = scenarios.make("mujoco/Hopper-v5", time_limit=50)
    store = ResultsStore(tmp_path / "r.db")
    # cmaes's design: the box's centre and both ends; only the end at -9 is a physical gravity
    found = search(agents.make("random", sc, seed=0), sc, [parse_box("gravity.z@set=-1e30:-9")], episodes=1,
                   evaluations=3, method="cmaes", store=store)
    assert found.point == {"gravity.z@set": -9.0} and found.unstable_points == 2
    assert found.value > -1e6  # the blow-up's -6.8e33 is not the worst case
    stored = store.records()
    assert sum(bool(r.unstable) for r in stored) == sum(bool(r.unstable) for r in found.records) >= 1
    assert {r.unstable for r in stored} == {True, False}
    (row,) = robustness(stored)
    assert row.unstable_points == found.unstable_points and row.worst == pytest.approx(found.value)
    grid = evaluate_grid(agents.make("random", sc, seed=0), sc, [parse_axis("gravity.z@set=-1e30:-9:2")], episodes=1)
    (study,) = grid_study(grid)  # the study table's and the report's heatmaps' view of a grid
    (row,) = robustness(grid)
    assert study.points == row.points == 1 and row.unstable_points == 1
    assert study.worst.value == pytest.approx(row.worst) and row.worst > -1e6
    with pytest.raises(UserError, match="every one of the 2 points searched went physically unstable"):
        search(agents.make("random", sc, seed=0), sc, [parse_box("gravity.z@set=-1e30:-1e29")], episodes=1,
               evaluations=2, method="random")
    assert all(r.unstable is False for r in testbed.evaluate(agents.make("random", sc, seed=0), sc, episodes=2))
    blown = scenarios.make("mujoco/Hopper-v5", time_limit=50, layers=[gravity(-1e30)])
    with pytest.raises(UserError, match="nominal physics went unstable"):
        search(agents.make("random", blown, seed=0), blown, [parse_box("body_mass.torso=0.5:2")], episodes=1,
               evaluations=2, method="random")


@pytest.mark.slow  # 14 s for the 50 MuJoCo tasks, 23 s for the 70 robotics ones (2026-12-07)
@pytest.mark.parametrize("prefix", ["mujoco/", "mamujoco/", "robotics/"])
def test_no_registered_task_flags_an_ordinary_episode(prefix):
    """Across the registry: random play at nominal physics is never flagged unstable, on either face."""
    episodes = 0
    for sid in [i for i in scenarios.list_ids() if i.startswith(prefix)]:
        for backend in ("batch", "gymnasium"):
            try:
                vec = scenarios.make(sid, time_limit=40).vector(2, seed=0, backend=backend)
            except UserError:  # a task the batched backend does not cover
                continue
            vec.reset()
            rng = np.random.default_rng(0)
            for _ in range(80):
                acts = {a: rng.uniform(s.low, s.high, (2, *s.shape)).astype(s.dtype)
                        for a, s in vec.action_spaces.items()}
                for info in vec.step(acts)[4]:
                    if "episode" in info:
                        episodes += 1
                        assert info["episode"]["unstable"] is False, (sid, backend)
    assert episodes > 50
