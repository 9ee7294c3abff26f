"""An output folder that cannot become one (an existing file, a path under a file) is refused in one
line before any work: ``train`` found out only when saving, after the whole training run, and ``run``
failed every job (exit 1) with a NotADirectoryError."""

from __future__ import annotations

import pytest

from tests.test_cli import assert_user_error, run


@pytest.mark.parametrize("command", [
    ["train", "ppo", "classic/CartPole-v1", "--steps", "0"],
    ["sim2real", "sim2real/Hopper-real-v0", "--episodes", "1", "--steps", "0"],
])
@pytest.mark.parametrize("under", [False, True])
def test_an_out_folder_that_is_a_file_is_refused_before_any_work(tmp_path, command, under):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    out = blocker / "sub" if under else blocker
    proc = run(*command, "--out", str(out), cwd=tmp_path)
    assert_user_error(proc, rf"--out {out}: {blocker} is a file, not a folder \(choose another path\)")
    assert blocker.read_text() == "x"


@pytest.mark.slow  # 8 s; the default run checks train's and sim2real's refusals above (the same check_out_folder)
def test_run_refuses_an_out_file_and_keeps_the_stored_episodes(tmp_path):
    import sqlite3

    spec = tmp_path / "s.yaml"
    spec.write_text("name: t\nagents: [{name: random}]\nscenarios: [classic/CartPole-v1]\ntrain_steps: 0\n"
                    "evaluation: {episodes: 1}\n")
    db = tmp_path / "r.db"
    assert run("run", str(spec), "--db", str(db), "--out", str(tmp_path / "runs"), cwd=tmp_path).returncode == 0
    before = sqlite3.connect(db).execute("select count(*) from episodes").fetchone()[0]
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert_user_error(run("run", str(spec), "--db", str(db), "--out", str(blocker), cwd=tmp_path), r"is a file, not a folder")
    assert sqlite3.connect(db).execute("select count(*) from episodes").fetchone()[0] == before


def test_a_new_nested_out_folder_is_still_created(tmp_path):
    out = tmp_path / "a" / "b"
    proc = run("train", "random", "classic/CartPole-v1", "--steps", "0", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.is_dir()
