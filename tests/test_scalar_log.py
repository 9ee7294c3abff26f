"""Scalars go to TensorBoard by default and, with --wandb, to Weights & Biases too (checked in
W&B's offline mode: the run's log holds every key we wrote)."""

import subprocess
import sys

import pytest
import yaml

from cli_inprocess import run_inprocess

SPEC = {"name": "wb", "agents": [{"name": "ppo", "steps": 128, "hparams": {"n_envs": 2, "n_steps": 64, "batch_size": 64}}],
        "scenarios": ["classic/CartPole-v1"], "seeds": [0], "evaluation": {"episodes": 2, "seed": 100}}


@pytest.mark.slow  # ~14 s; TensorBoard logs stay covered by default (fast_sac, a3c and impala spec tests)
def test_run_logs_the_same_scalars_to_tensorboard_and_wandb_offline(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "run", str(spec), "--db", str(tmp_path / "r.db"), "--out",
                           str(tmp_path / "runs"), "--wandb", "--wandb-mode", "offline", "--wandb-project", "t"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tb = list((tmp_path / "runs" / "tensorboard").rglob("events.out.tfevents.*"))
    logs = list((tmp_path / "runs" / "tensorboard").rglob("offline-run-*/run-*.wandb"))
    assert len(tb) == 1 and len(logs) == 1
    raw = logs[0].read_bytes()
    for key in (b"eval/mean_team_return", b"train/steps_per_second"):
        assert key in raw and key in tb[0].read_bytes(), key


def test_a_bad_wandb_mode_is_one_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    proc = run_inprocess("run", str(spec), "--db", str(tmp_path / "r.db"), "--wandb", "--wandb-mode", "sometimes", cwd=tmp_path)
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "unknown --wandb-mode 'sometimes'" in lines[0], lines
