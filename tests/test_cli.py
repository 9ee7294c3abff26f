"""The testbed CLI end to end: commands, one-line errors with exit status 2, no tracebacks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_inprocess import run_inprocess

ROOT = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-m", "testbed.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    import re

    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_help_explains_every_command():
    proc = run("--help")
    assert proc.returncode == 0
    for cmd in ("list", "describe", "check", "train", "evaluate", "results"):
        assert cmd in proc.stdout
    train_help = run("train", "--help").stdout
    for opt in ("--steps", "--seed", "--out", "--set"):
        assert opt in train_help


def test_list_and_describe():
    listing = run("list", "scenarios").stdout
    assert "mujoco/HalfCheetah-v5" in listing and "matrix/climbing-v0" in listing
    assert "ppo" in run("list", "agents").stdout
    described = run("describe", "mpe/simple_speaker_listener-v4").stdout
    assert "speaker_0" in described and "listener_0" in described


def test_unknown_scenario_suggests_and_exits_2():
    assert_user_error(run_inprocess("describe", "mujoco/Hoper-v5"), r"unknown scenario 'mujoco/Hoper-v5'; did you mean: mujoco/Hopper-v5")


def test_unknown_agent_exits_2(tmp_path):
    assert_user_error(run_inprocess("train", "sacc", "classic/CartPole-v1", "--out", str(tmp_path / "x")), r"unknown agent 'sacc'")


def test_bad_spec_files_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x/y-v0\nsource: gymnasium:CartPole-v1\ntime_limit: [1, 2\n")
    assert_user_error(run_inprocess("check", str(bad)), r"malformed YAML")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("id: x/y-v0\nsource: gymnasium:CartPole-v1\ntime_limit: 0\n")
    assert_user_error(run_inprocess("check", str(wrong)), r"field 'time_limit': Input should be greater than 0")
    assert_user_error(run_inprocess("check", str(tmp_path / "absent.yaml")), r"file not found")


def test_check_passes_on_a_registered_id_and_a_spec_file(tmp_path):
    spec = tmp_path / "short.yaml"
    spec.write_text("id: custom/ShortPendulum-v0\nsource: gymnasium:Pendulum-v1\ntime_limit: 20\n")
    for target in ("matrix/climbing-v0", str(spec)):
        proc = run("check", target, "--cycles", "30")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "all checks passed" in proc.stdout


def test_train_evaluate_results_and_bad_checkpoints(tmp_path):
    ckpt, db = tmp_path / "ppo", tmp_path / "results.db"
    proc = run("train", "ppo", "classic/CartPole-v1", "--steps", "2000", "--seed", "1", "--out", str(ckpt),
               "--set", "n_steps=64", "--set", "batch_size=128")
    assert proc.returncode == 0, proc.stderr
    assert (ckpt / "model.zip").is_file() and (ckpt / "agent.json").is_file()
    assert_user_error(run_inprocess("train", "ppo", "classic/CartPole-v1", "--steps", "10", "--out", str(ckpt)), "already holds a checkpoint")
    assert_user_error(run_inprocess("train", "ppo", "classic/CartPole-v1", "--set", "n_step=3", "--out", str(tmp_path / "y")),
                      r"unknown hyperparameter 'n_step' for ppo; did you mean: n_steps")

    for runner, target in ((run, str(ckpt)), (run_inprocess, "random")):
        proc = runner("evaluate", target, "classic/CartPole-v1", "--episodes", "4", "--seed", "5", "--db", str(db))
        assert proc.returncode == 0, proc.stderr
    assert_user_error(run_inprocess("evaluate", str(ckpt), "classic/Acrobot-v1", "--db", str(db)), r"does not fit classic/Acrobot-v1")
    assert_user_error(run_inprocess("evaluate", str(tmp_path / "nothing"), "classic/CartPole-v1", "--db", str(db)), "checkpoint not found")

    summary = run_inprocess("results", str(db))
    assert summary.returncode == 0
    assert "ppo" in summary.stdout and "random" in summary.stdout and "IQM" in summary.stdout
    import testbed

    assert testbed.ResultsStore(db).count() == 8  # the failed evaluations stored nothing and lost nothing
    assert_user_error(run_inprocess("results", str(tmp_path / "none.db")), "results database not found")


@pytest.mark.slow  # tests/test_checker.py runs the same checks on every id in-process
def test_check_all_registered_ids():
    proc = run("check", "--all", "--cycles", "100")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "all checks passed" in proc.stdout


def test_grid_evaluation_and_robustness_report(tmp_path):
    db = tmp_path / "grid.db"
    proc = run_inprocess("evaluate", "random", "mujoco/InvertedPendulum-v5", "--episodes", "2", "--db", str(db),
                         "--grid", "body_mass.pole=1:2:2", "--grid", "geom_friction=0.5:1:2")
    assert proc.returncode == 0, proc.stderr
    summary = run_inprocess("results", str(db)).stdout
    assert "robustness over the grid" in summary and "4 x 2" in summary and "worst" in summary
    assert_user_error(run_inprocess("evaluate", "random", "mujoco/InvertedPendulum-v5", "--db", str(db), "--grid", "body_mass.polo=1:2:2"),
                      r"no body named polo in the model \(valid: world, cart, pole\)")
    assert_user_error(run_inprocess("evaluate", "random", "mujoco/InvertedPendulum-v5", "--db", str(db), "--grid", "body_mass=1:2"),
                      "bad --grid")


def test_settings_too_large_for_memory_are_one_line(tmp_path):
    """A replay buffer of 10^12 steps: NumPy's MemoryError becomes one line naming the sizes to lower."""
    r = run_inprocess("train", "dqn", "classic/CartPole-v1", "--steps", "10", "--out", str(tmp_path / "m"),
                      "--set", "buffer_size=1000000000000", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "out of memory: Unable to allocate" in line[0] and "buffer_size" in line[0]
    assert not (tmp_path / "m").exists()
    # torch reports the same as a RuntimeError (a GRU of 10^7 units)
    r = run_inprocess("train", "i2a", "classic/CartPole-v1", "--steps", "10", "--out", str(tmp_path / "g"),
                      "--set", "encoder_size=10000000", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("error:")][0].startswith("error: out of memory:")


@pytest.mark.parametrize("args,message", [
    (["train", "fast_ppo", "classic/CartPole-v1", "--steps", "-5"],
     "Invalid value for '--steps': Input should be greater than or equal to 0"),
    (["train", "fast_ppo", "classic/CartPole-v1", "--bogus", "1"], "No such option: --bogus"),
    (["train"], "Missing argument 'agent'"),
    (["bogus"], "No such command 'bogus'"),
])
def test_usage_errors_are_one_line_too(args, message, tmp_path):
    """click's usage errors (typer's own checks) printed a usage line and a boxed message; now one line."""
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {message}") and "--help'" in r.stderr, r.stderr
