"""The plain install (no extras) gives every command: a fresh virtual environment with
``pip install .`` (and this machine's torch pin from constraints.txt) runs an experiment
with the local executor, writes a report with its figures, renders a video and tunes."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_copy(dest: Path) -> Path:
    """The working tree's files that git sees (tracked, and new ones not ignored), copied to ``dest``: pip
    builds there, so the install leaves no ``build/`` folder in the repository."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], capture_output=True,
                           text=True, cwd=ROOT, check=True).stdout.splitlines()
    for f in files:
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    return dest


@pytest.mark.slow  # ~3 min: a fresh venv and a plain install
def test_plain_install_runs_run_report_and_videos(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), str(_source_copy(tmp_path / "src"))], check=True, cwd=tmp_path)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import agents, pathlib; print(pathlib.Path(agents.__file__).parents[1])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    tracked = subprocess.run(["git", "ls-files", "agents", "scenarios", "testbed", "sim2real"], capture_output=True, text=True,
                             cwd=ROOT, check=True).stdout.split()
    missing = [f for f in tracked if not f.endswith(".py") and not (site / f).is_file()]
    assert not missing, f"data files the packages read but a plain install leaves out: {missing}"
    spec = tmp_path / "study.yaml"
    spec.write_text(textwrap.dedent("""\
        name: plain
        agents:
          - {name: ppo, steps: 512, hparams: {n_envs: 2, n_steps: 64, batch_size: 64}}
          - {name: random}
        scenarios: [mujoco/InvertedPendulum-v5]
        seeds: [0]
        evaluation: {episodes: 2, seed: 1000}
        grids:
          - [body_mass.pole=0.5:1.5:2]
        """))
    testbed = str(venv / "bin" / "testbed")
    run = subprocess.run([testbed, "run", str(spec), "--db", "r.db", "--out", "runs"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    report = subprocess.run([testbed, "report", "r.db", "--out", "report", "--videos", "1", "--video-steps", "4"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert report.returncode == 0, report.stdout + report.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "<svg" in page and ".gif" in page
    assert list((tmp_path / "report").rglob("*.gif"))
    for argv in (["describe", "ppo", "--scenario", "classic/CartPole-v1"],  # the data files the install must carry
                 ["train", "ppo", "classic/CartPole-v1", "--set", "gamma=1.5"]):
        proc = subprocess.run([testbed, *argv], capture_output=True, text=True, cwd=tmp_path)
        assert "Traceback" not in proc.stderr and (proc.returncode == 0 or "gamma must be a number in" in proc.stderr), proc.stderr
    # testbed tune (Optuna) is a command, so it runs from the plain install too
    tune = subprocess.run([testbed, "tune", "ppo", "classic/CartPole-v1", "--trials", "1", "--seeds", "1", "--steps", "128",
                           "--evals", "1", "--eval-episodes", "1", "--storage", "memory", "--set", "n_envs=2", "--set",
                           "n_steps=64", "--set", "batch_size=64", "--out", "best.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert tune.returncode == 0 and (tmp_path / "best.yaml").is_file(), tune.stdout + tune.stderr
    # Ray is an extra: what needs it answers in one line naming the extra, exit status 2
    for argv in (["train", "impala", "classic/CartPole-v1", "--steps", "10"], ["run", str(spec), "--executor", "ray", "--db", "r2.db"]):
        proc = subprocess.run([testbed, *argv], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 2 and "pip install 'testbed[ray]'" in proc.stderr, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
