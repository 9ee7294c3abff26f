"""System identification beyond Hopper: the nominal model from its own data on every Gymnasium MuJoCo
v5 task (from recorded states and from observations), hidden changes of several kinds, what the data
cannot identify, the full proxy's systematic effects, and the one-command loop."""

import json

import numpy as np
import pytest

import agents
from agents.imitation import dataset
from scenarios import UserError
from sim2real.adapter import ScenarioSystem, record
from sim2real.sysid import default_parameters, identify

TASKS = ["InvertedPendulum", "InvertedDoublePendulum", "Reacher", "Pusher", "Swimmer", "Hopper", "HalfCheetah", "Walker2d",
         "Ant", "Humanoid", "HumanoidStandup"]
NO_CONTACT = {"InvertedPendulum", "InvertedDoublePendulum", "Reacher", "Swimmer"}  # friction has nothing to act on
CONTACT = {"Hopper", "HalfCheetah", "Walker2d", "Ant", "Humanoid", "HumanoidStandup"}
# in the default run: angles seen as sin/cos, clipped velocity readings, a free joint with contacts
DEFAULT = {"Reacher", "Walker2d", "Ant"}


def _tasks():
    return [pytest.param(t, marks=() if t in DEFAULT else pytest.mark.slow) for t in TASKS]


def _nominal_data(task: str, expose_state: bool, episodes: int = 2):
    sid = f"mujoco/{task}-v5"
    return sid, record(ScenarioSystem(sid, expose_state=expose_state), agents.make("random", sid, seed=0), episodes=episodes)


def _check_nominal(task: str, sid: str, res) -> None:
    assert set(res.scales) | set(res.unidentifiable) == set(default_parameters(sid))
    assert res.scales, res.unidentifiable
    for name, s in res.scales.items():
        assert s == pytest.approx(1.0, rel=0.01), name
    if task in NO_CONTACT:
        assert res.unidentifiable == {"friction:*": "no effect on the recorded transitions"}
    if task in CONTACT:
        assert res.unidentifiable == {}


@pytest.mark.parametrize("task", _tasks())
def test_identify_returns_the_nominal_model_from_its_own_states(task):
    sid, data = _nominal_data(task, expose_state=True)
    assert data.states["agent_0"].shape[0] == data.obs["agent_0"].shape[0]
    res = identify(sid, data, max_transitions=150)
    assert res.mode == "state" and res.cost < 1e-12  # the replay reproduces the simulator exactly
    _check_nominal(task, sid, res)


@pytest.mark.parametrize("task", _tasks())
def test_identify_returns_the_nominal_model_from_its_own_observations(task):
    sid, data = _nominal_data(task, expose_state=False, episodes=3)
    assert data.states == {}
    res = identify(sid, data, max_transitions=150)
    assert res.mode == "observation"
    _check_nominal(task, sid, res)


def _hidden(task: str, changes: list[dict], expose_state: bool = True, episodes: int = 10, seed: int = 0):
    spec = {"id": f"mujoco/{task}-hidden-v5", "source": f"gymnasium:{task}-v5", "layers": [{"type": "dynamics", "params": {
        "mode": "startup", "parameters": [{**c, "distribution": "constant"} for c in changes]}}]}
    system = ScenarioSystem(spec, expose_state=expose_state)
    return record(system, agents.make("random", f"mujoco/{task}-v5", seed=seed), episodes=episodes, seed=100 * seed)


def test_identify_recovers_mass_damping_and_friction_on_walker():
    data = _hidden("Walker2d", [{"field": "body_mass", "names": ["torso"], "value": 1.25}, {"field": "dof_damping", "value": 1.5},
                                {"field": "geom_friction", "component": 0, "value": 0.8}])
    res = identify("mujoco/Walker2d-v5", data, ["body_mass:torso", "damping:*", "friction:*"], max_transitions=300)
    assert res.scales == pytest.approx({"body_mass:torso": 1.25, "damping:*": 1.5, "friction:*": 0.8}, rel=0.01)
    assert res.unidentifiable == {}


def test_identify_recovers_mass_and_damping_from_sin_cos_observations():
    """InvertedDoublePendulum shows angles as sin/cos and clips velocities: the state is read back from them."""
    data = _hidden("InvertedDoublePendulum", [{"field": "body_mass", "names": ["pole2"], "value": 1.3},
                                              {"field": "dof_damping", "value": 2.0}], expose_state=False, episodes=20)
    res = identify("mujoco/InvertedDoublePendulum-v5", data, ["body_mass:pole2", "damping:*"])
    assert res.mode == "observation"
    assert res.scales == pytest.approx({"body_mass:pole2": 1.3, "damping:*": 2.0}, rel=0.01)


def test_identify_reports_what_the_data_cannot_identify(capsys):
    sid, data = _nominal_data("InvertedPendulum", expose_state=True)
    res = identify(sid, data, ["body_mass:pole", "friction:*", "gain:*", "gain:slide"], verbose=True)
    assert res.unidentifiable["friction:*"] == "no effect on the recorded transitions"
    flat = [n for n in ("gain:*", "gain:slide") if n in res.unidentifiable]  # one actuator: the two are the same scale
    assert len(flat) == 1 and "flat direction" in res.unidentifiable[flat[0]]
    assert set(res.scales) == {"body_mass:pole", *({"gain:*", "gain:slide"} - set(flat))}
    assert "friction:*" not in res.ranges() and "friction:*" not in str(res.dynamics_layer())
    printed = capsys.readouterr().out
    assert "friction:*: not identifiable from this data (no effect" in printed and "body_mass:pole: 1.0000  range [" in printed
    hop_sid, hop = _nominal_data("Hopper", expose_state=True, episodes=1)
    res = identify(hop_sid, hop, ["body_mass:torso", "damping:rootx"])
    assert res.unidentifiable == {"damping:rootx": "its nominal value is 0, which no scale changes"}


def test_identify_separates_delay_and_deadband_from_physics_on_the_full_proxy():
    """Hopper-real-v0: 1-step latency and a 0.05 deadband (plus sensor noise and bias, which the state does not see)."""
    data = record(ScenarioSystem("sim2real/Hopper-real-v0"), agents.make("random", "mujoco/Hopper-v5", seed=0), episodes=5)
    res = identify("mujoco/Hopper-v5", data, ["body_mass:torso", "friction:*"], delays=(0, 1), deadbands=(0.0, 0.05))
    assert (res.delay, res.deadband) == (1, 0.05)
    assert res.scales == pytest.approx({"body_mass:torso": 1.3, "friction:*": 0.7}, rel=0.02)
    layers = res.training_layers()
    assert [la["type"] for la in layers] == ["dynamics", "action_delay", "action_deadband"]


def test_identify_refuses_bad_parameters_and_unknown_layouts():
    sid, data = _nominal_data("InvertedPendulum", expose_state=False, episodes=1)
    with pytest.raises(UserError, match=r"unknown sysid parameter kind 'inertia' .*body_mass, friction, damping, armature"):
        identify(sid, data, ["inertia:pole"])
    with pytest.raises(UserError, match="no joint named hing in the model"):
        identify(sid, data, ["armature:hing"])
    with pytest.raises(UserError, match="repeat a name"):
        identify(sid, data, ["body_mass:pole", "body_mass:pole"])
    custom = {"id": "mujoco/Hopper-positions-v5", "source": "gymnasium:Hopper-v5",
              "kwargs": {"exclude_current_positions_from_observation": False}}
    data = record(ScenarioSystem(custom, expose_state=False), agents.make("random", custom, seed=0), episodes=1)
    with pytest.raises(UserError, match="cannot read HopperEnv's state from its observation: .* not the default v5 layout"):
        identify(custom, data, ["body_mass:torso"])
    assert identify(custom, record(ScenarioSystem(custom), agents.make("random", custom, seed=0), episodes=1),
                    ["body_mass:torso"]).scales == {"body_mass:torso": 1.0}  # with its states it needs no layout


def test_dataset_keeps_states_through_save_and_load(tmp_path):
    _, data = _nominal_data("Hopper", expose_state=True, episodes=1)
    loaded = dataset.load(data.save(tmp_path / "d.npz"))
    np.testing.assert_array_equal(loaded.states["agent_0"], data.states["agent_0"])


class ObservedHopper:
    """A RealSystem with a heavier torso that shows only its observations (no state())."""

    base_scenario = "mujoco/Hopper-v5"

    def __init__(self) -> None:
        self.inner = ScenarioSystem({"id": "mujoco/Hopper-heavy-v5", "source": "gymnasium:Hopper-v5", "layers": [
            {"type": "dynamics", "params": {"mode": "startup", "parameters": [
                {"field": "body_mass", "names": ["torso"], "distribution": "constant", "value": 1.3}]}}]})
        self.observation_space, self.action_space = self.inner.observation_space, self.inner.action_space

    def reset(self, seed=None):
        return self.inner.reset(seed)

    def step(self, action):
        return self.inner.step(action)

    def close(self):
        self.inner.close()


FAST = ["--episodes", "3", "--agent", "random", "--steps", "0", "--eval-episodes", "2"]


def test_cli_sim2real_runs_the_loop_on_a_shipped_proxy(tmp_path):
    from typer.testing import CliRunner

    from testbed.cli import app

    runner = CliRunner()
    fast = FAST
    ok = runner.invoke(app, ["sim2real", "sim2real/Hopper-real-v0", *fast, "--param", "body_mass:torso", "--param", "friction:*",
                             "--delays", "0,1", "--out", str(tmp_path / "proxy"), "--db", str(tmp_path / "r.db")])
    assert ok.exit_code == 0, ok.output
    report = json.loads((tmp_path / "proxy" / "sim2real.json").read_text())
    assert report["base"] == "mujoco/Hopper-v5" and report["fit"]["delay"] == 1
    assert report["fit"]["scales"] == pytest.approx({"body_mass:torso": 1.3, "friction:*": 0.7}, rel=0.02)
    assert [p["name"] for p in report["policies"]] == ["nominal", "randomized"]
    assert "| nominal |" in (tmp_path / "proxy" / "sim2real.md").read_text() and "range [" in ok.output
    import testbed

    assert {r.label for r in testbed.ResultsStore(tmp_path / "r.db").records()} == {"random-nominal", "random-randomized"}
    for args, pattern in ((["tests.nowhere:Robot"], "cannot load RealSystem"), (["sim2real/Hopper-real-v0", "--param", "mass:torso"],
                          "unknown sysid parameter kind 'mass'"), (["sim2real/Hopper-real-v0", "--delays", "x"], "--delays expects")):
        bad = runner.invoke(app, ["sim2real", *args, *fast, "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2 and pattern in bad.output and "Traceback" not in bad.output, bad.output


@pytest.mark.slow
def test_cli_sim2real_runs_the_loop_on_a_real_system_class(tmp_path):
    """A RealSystem without state(): identification from observations with a fitted sensor bias (~20 s)."""
    from typer.testing import CliRunner

    from testbed.cli import app

    fast = FAST
    real = CliRunner().invoke(app, ["sim2real", "tests.test_sim2real_sysid:ObservedHopper", *fast, "--param", "body_mass:torso",
                               "--delays", "0", "--deadbands", "0", "--out", str(tmp_path / "real")])
    assert real.exit_code == 0, real.output
    fit = json.loads((tmp_path / "real" / "sim2real.json").read_text())["fit"]
    assert fit["mode"] == "observation" and fit["scales"]["body_mass:torso"] == pytest.approx(1.3, rel=0.05)
