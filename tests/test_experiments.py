"""Experiment specs and executors: resume after a kill with exact row counts, the Ray
executor on a local instance, bad specs refused in one line."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from testbed.experiment_spec import ExperimentSpec, expand

from cli_inprocess import run_inprocess

SPEC = {
    "name": "tiny",
    "agents": [{"name": "random"}, {"name": "ppo", "steps": 256, "hparams": {"n_envs": 2, "n_steps": 64, "batch_size": 64}}],
    "scenarios": ["mujoco/InvertedPendulum-v5"],
    "seeds": [0, 1, 2],
    "evaluation": {"episodes": 3, "seed": 100},
    "grids": [["body_mass.pole=0.5:1.5:2"]],
}
EPISODES_PER_JOB = 3 + 3 * 3  # nominal + (nominal point + 2 grid points) x 3 episodes


def _write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "testbed.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


def _counts(db: Path) -> tuple[int, int, int]:
    con = sqlite3.connect(db)
    episodes = con.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    distinct = con.execute("SELECT COUNT(DISTINCT job_id || run_id || episode || params) FROM episodes").fetchone()[0]
    jobs = con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    con.close()
    return episodes, distinct, jobs


def test_jobs_have_stable_ids():
    a, b = expand(ExperimentSpec.model_validate(SPEC)), expand(ExperimentSpec.model_validate(SPEC))
    assert [j["id"] for j in a] == [j["id"] for j in b] and len({j["id"] for j in a}) == 6


def test_a_run_killed_mid_way_resumes_without_losing_or_duplicating(tmp_path):
    spec, db = _write(tmp_path, SPEC), tmp_path / "r.db"
    with open(tmp_path / "killed.log", "w") as log:  # never a pipe: an unread pipe fills and blocks the run
        proc = subprocess.Popen([sys.executable, "-m", "testbed.cli", "run", str(spec), "--db", str(db), "--out",
                                 str(tmp_path / "runs"), "--workers", "1"], stdout=log, stderr=log,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            if db.exists() and _counts(db)[2] >= 2:
                break
        except sqlite3.DatabaseError:  # the file exists a moment before the run's schema transaction commits
            pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    episodes, distinct, jobs = _counts(db)
    assert 2 <= jobs < 6 and episodes == distinct == jobs * EPISODES_PER_JOB
    again = _cli("run", str(spec), "--db", str(db), "--out", str(tmp_path / "runs"), "--workers", "2")
    out, err = again.communicate(timeout=400)
    assert again.returncode == 0, err
    assert f"{jobs} already stored" in out
    assert _counts(db) == (6 * EPISODES_PER_JOB, 6 * EPISODES_PER_JOB, 6)
    third = _cli("run", str(spec), "--db", str(db), "--out", str(tmp_path / "runs"))
    out, _ = third.communicate(timeout=200)
    assert "6 already stored, 0 run" in out and _counts(db)[0] == 6 * EPISODES_PER_JOB
    assert len(list((tmp_path / "runs" / "checkpoints" / "mujoco" / "InvertedPendulum-v5" / "ppo").glob("seed*/agent.json"))) == 3
    assert list((tmp_path / "runs" / "tensorboard").rglob("events.out.tfevents.*"))


@pytest.mark.slow  # starting a local Ray instance takes ~30-60 s here
def test_ray_executor_on_a_local_instance(tmp_path):
    pytest.importorskip("ray")
    spec = {**SPEC, "agents": SPEC["agents"][:1], "seeds": [0, 1], "grids": []}
    db = tmp_path / "r.db"
    proc = _cli("run", str(_write(tmp_path, spec)), "--db", str(db), "--out", str(tmp_path / "runs"), "--executor", "ray",
                "--workers", "2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _counts(db) == (6, 6, 2)


@pytest.mark.parametrize("change,message", [
    ({"agents": [{"name": "ppx"}]}, "unknown agent 'ppx'"),
    ({"agents": [{"name": "ppo", "hparams": {"learning_rat": 1}}]}, "unknown hyperparameter 'learning_rat' for ppo"),
    ({"scenarios": ["classic/CartPol-v1"]}, "CartPol"),
    ({"scenarios": ["classic/CartPole-v1"]}, "needs a MuJoCo source"),
    ({"grids": [["body_mas.torso=0.5:1:2"]]}, "unknown field 'body_mas'"),
    ({"attacks": [{"kind": "cw", "eps": [0.1]}]}, "unknown attack 'cw'"),
    ({"seeds": []}, "seeds"),
])
def test_bad_specs_are_refused_in_one_line(tmp_path, change, message):
    proc = run_inprocess("run", str(_write(tmp_path, {**SPEC, **change})), "--db", str(tmp_path / "r.db"))
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "r.db").exists() or _counts(tmp_path / "r.db")[0] == 0


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killing_the_driver_leaves_no_worker_behind(tmp_path, sig):
    spec = {**SPEC, "agents": [{"name": "ppo", "steps": 200_000, "hparams": {"n_envs": 2}}], "grids": []}
    with open(tmp_path / "log", "w") as log:  # SIGINT at its default, as for a terminal's foreground job, even when
        # the tests run as a background job (whose children inherit SIGINT ignored: POSIX shells without job control)
        proc = subprocess.Popen([sys.executable, "-m", "testbed.cli", "run", str(_write(tmp_path, spec)), "--db",
                                 str(tmp_path / "r.db"), "--out", str(tmp_path / "runs"), "--workers", "2"],
                                stdout=log, stderr=log, env={**os.environ, "OMP_NUM_THREADS": "1"},
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    workers: set[int] = set()
    while time.time() < deadline and len(workers) < 2:
        workers = {c for c in _children(proc.pid) if "multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="ignore")
                   and b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()}
        time.sleep(0.2)
    assert len(workers) == 2, "the run never started its workers"
    time.sleep(3)  # the workers are inside their jobs now
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]]
    assert not alive, f"workers {alive} outlived the driver"
