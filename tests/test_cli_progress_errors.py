"""A refusal found once a command's progress bar has started (an unknown ``--backend``, an attack
the agent cannot take) is still one ``error:`` line: the bar erases itself instead of leaving its
half-drawn line above the error."""

from __future__ import annotations

import pytest

from tests.test_cli import assert_user_error, run


@pytest.mark.parametrize("args,match", [
    (["evaluate", "random", "classic/CartPole-v1", "--episodes", "1", "--backend", "foo"],
     r"unknown backend 'foo' \(valid: auto, batch, gymnasium\)"),
    (["evaluate", "random", "classic/Pendulum-v1", "--episodes", "1", "--attack", "pgd", "--eps", "0.1"],
     r"attacks need a differentiable policy; random has none"),
])
def test_an_error_inside_a_progress_bar_is_one_line(tmp_path, args, match):
    proc = run(*args, "--db", str(tmp_path / "r.db"), cwd=tmp_path)
    assert_user_error(proc, match)
    assert "evaluating" not in proc.stderr and "attacking" not in proc.stderr


def test_a_finished_progress_bar_still_shows(tmp_path):
    proc = run("evaluate", "random", "classic/CartPole-v1", "--episodes", "1", "--db", str(tmp_path / "r.db"), cwd=tmp_path)
    assert proc.returncode == 0 and "evaluating random on classic/CartPole-v1" in proc.stderr
