"""Registry, spec validation and scenario construction."""

from pathlib import Path

import pytest

import scenarios
from scenarios import UserError

REQUIRED = {
    "mujoco": ["InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "Pusher-v5", "Swimmer-v5", "Hopper-v5",
               "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5", "HumanoidStandup-v5"],
    "mpe": ["simple_spread-v3", "simple_speaker_listener-v4", "simple_reference-v3", "simple_adversary-v3",
            "simple_tag-v3", "simple_push-v3", "simple_crypto-v3", "simple_world_comm-v3"],
    "sisl": ["multiwalker-v9", "pursuit-v5"],
    "mamujoco": ["HalfCheetah-2x3-v1", "Ant-2x4-v1", "Walker2d-2x3-v1", "Hopper-3x1-v1"],
    "classic": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"],
    "toytext": ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"],
    "matrix": ["prisoners_dilemma-v0", "stag_hunt-v0", "climbing-v0", "matching_pennies-v0"],
}


def test_every_required_source_is_registered():
    ids = set(scenarios.list_ids())
    missing = [f"{fam}/{name}" for fam, names in REQUIRED.items() for name in names if f"{fam}/{name}" not in ids]
    assert missing == []


def test_ids_are_versioned():
    import re

    assert all(re.match(r"^[a-z0-9_]+/.+-v\d+$", i) for i in scenarios.list_ids())


def test_make_from_id_dict_and_yaml_give_the_same_spec(tmp_path: Path):
    spec = scenarios.get_spec("classic/CartPole-v1")
    file = tmp_path / "cp.yaml"
    file.write_text("id: classic/CartPole-v1\nsource: gymnasium:CartPole-v1\ntime_limit: 500\n")
    a = scenarios.make("classic/CartPole-v1")
    b = scenarios.make(spec.model_dump())
    c = scenarios.make(str(file))
    assert a.spec == b.spec
    assert c.spec.source == a.spec.source and c.time_limit == a.time_limit == 500


def test_overrides_split_between_spec_fields_and_source_kwargs():
    sc = scenarios.make("mpe/simple_spread-v3", seed=3, N=4, time_limit=10)
    assert sc.num_agents == 4
    assert sc.time_limit == 10
    assert sc.spec.kwargs == {"N": 4}


def test_unknown_id_suggests_closest():
    with pytest.raises(UserError, match=r"did you mean: mujoco/HalfCheetah-v5"):
        scenarios.make("mujoco/HalfChetah-v5")


@pytest.mark.parametrize(
    "data, pattern",
    [
        ({"id": "x/y-v0", "source": "gymnasium:CartPole-v1", "time_limit": -5}, r"time_limit.*greater than 0"),
        ({"id": "x/y-v0", "source": "gymnasium:CartPole-v1", "time_limit": "long"}, r"time_limit.*integer"),
        ({"id": "no-version", "source": "gymnasium:CartPole-v1"}, r"field 'id'"),
        ({"id": "x/y-v0", "source": "gymnasium:CartPole-v1", "colour": "red"}, r"colour.*Extra inputs"),
        ({"id": "x/y-v0", "source": "nowhere:thing"}, r"unknown source 'nowhere:thing'"),
        ({"id": "x/y-v0", "source": "gymnasium:CartPole-v1", "kwargs": {"bogus": 1}}, r"rejected kwargs \{'bogus': 1\}"),
        ({"id": "x/y-v0", "source": "matrix:chess"}, r"unknown matrix game 'chess'"),
    ],
)
def test_bad_specs_give_one_line_errors(data, pattern):
    with pytest.raises(UserError, match=pattern) as info:
        scenarios.make(data)
    assert "\n" not in str(info.value)


def test_malformed_yaml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x/y-v0\nsource: [unclosed\n")
    with pytest.raises(UserError, match=r"malformed YAML in .*bad.yaml at line"):
        scenarios.make(str(bad))
    with pytest.raises(UserError, match=r"file not found"):
        scenarios.make(str(tmp_path / "absent.yaml"))


def test_unknown_layer_type_lists_the_valid_ones():
    spec = scenarios.get_spec("classic/CartPole-v1").model_dump()
    spec["layers"] = [{"type": "obs_noise", "params": {"std": 0.1}}]
    with pytest.raises(UserError, match=r"unknown layer type 'obs_noise'.*valid: .*action_delay"):
        scenarios.make(spec)
