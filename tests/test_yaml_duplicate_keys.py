"""A key written twice in one YAML mapping (a scenario or experiment spec, a config, a ``--set``
value) is refused in one line naming the key and both lines; PyYAML kept the last value silently."""

from __future__ import annotations

import pytest
import yaml

from scenarios import UserError, yaml_loader
from tests.test_cli import assert_user_error, run


@pytest.mark.parametrize("text,key", [
    ("a: 1\na: 2\n", "a"),
    ("{a: 1, a: 2}", "a"),
    ("layers:\n  - {type: obs_bias, type: obs_drift}\n", "type"),
])
def test_a_repeated_key_is_a_yaml_error(text, key):
    with pytest.raises(yaml.YAMLError, match=f"duplicate key '{key}'"):
        yaml_loader.load(text)


def test_merge_keys_may_still_be_overridden():
    data = yaml_loader.load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")
    assert data["d"] == {"x": 3, "y": 2}


def test_a_file_with_a_repeated_key_names_the_key_and_its_lines(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("id: my/P-v0\nsource: gymnasium:Pendulum-v1\nid: my/Q-v0\n")
    with pytest.raises(UserError, match=r"at line 3, column 1: duplicate key 'id' \(first given at line 1\)") as e:
        yaml_loader.load_file(path)
    assert "\n" not in str(e.value)


def test_testbed_check_refuses_a_spec_with_a_repeated_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("id: my/P-v0\nsource: gymnasium:Pendulum-v1\ntime_limit: 10\ntime_limit: 20\n")
    assert_user_error(run("check", str(path), cwd=tmp_path), r"duplicate key 'time_limit' \(first given at line 3\)")


def test_no_shipped_yaml_file_repeats_a_key():
    """Every YAML file the project ships or documents (fields, defaults, catalog, examples, specs)
    loads with the strict loader: ``agents/fields.yaml`` once held two ``maddpg:`` entries under
    ``by_agent``, the second silently replacing the first's ``train_freq``."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [p for d in ("agents", "scenarios", "examples", "benchmarks", "docs") for p in (root / d).rglob("*.y*ml")]
    assert len(files) > 20
    for path in files:
        yaml_loader.load(path.read_text())  # raises on a repeated key
