"""Run a one-job experiment spec through the CLI in a subprocess, as a user would, and read back
what it stored: the records and the TensorBoard scalar tags."""

import os
import subprocess
import sys

import yaml


def run_spec(tmp_path, name: str, hparams: dict, scenario: str = "classic/CartPole-v1", steps: int = 1000) -> set[str]:
    """Train ``name`` for ``steps`` on ``scenario`` through ``testbed run``, evaluate 2 episodes; assert the
    records are stored and return the TensorBoard scalar tags written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from testbed.store import ResultsStore

    spec = {"name": "one_job", "scenarios": [scenario], "seeds": [0], "evaluation": {"episodes": 2, "seed": 5},
            "agents": [{"name": name, "steps": steps, "hparams": hparams}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "run", str(tmp_path / "spec.yaml"), "--db", str(tmp_path / "r.db"),
                           "--out", str(tmp_path / "runs")], env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = ResultsStore(tmp_path / "r.db", create=False).records()
    assert {r.agent for r in recs} == {name} and len(recs) == 2
    tags = set()
    for events in (tmp_path / "runs" / "tensorboard").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    return tags
