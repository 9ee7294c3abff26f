"""benchmarks/fast_ppo_returns.py continues a multi-seed run across sessions: chunked seeds resume,
recorded seeds are kept, and a run with other overrides starts afresh."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(out: Path, seeds: int, *extra: str) -> str:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "fast_ppo_returns.py"), "--learner", "fast_sac", "--task",
           "classic/Pendulum-v1", "--steps", "200", "--seeds", str(seeds), "--checkpoint-every", "100", "--out", str(out),
           "--set", "learning_starts=50", *extra]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                          env={"OMP_NUM_THREADS": "1", "PATH": ""}).stdout


@pytest.mark.slow  # three benchmark-script subprocesses, ~24 s: benchmark tooling, not the product
def test_recorded_seeds_are_kept_and_overrides_are_part_of_the_match(tmp_path):
    out = tmp_path / "r.json"
    _run(out, 1)
    first = json.loads(out.read_text())
    assert first["seeds"] == [0] and first["overrides"] == {"learning_starts": 50}
    assert first["cpu_seconds"][0] > 0 and not (tmp_path / "r.json.ckpt" / "seed0").exists()
    printed = _run(out, 2)
    assert "seeds [0] already in" in printed and "seed 0:" not in printed
    both = json.loads(out.read_text())
    assert both["seeds"] == [0, 1] and both["returns"][0] == first["returns"][0]
    again = _run(out, 1, "--set", "batch_size=32")  # other overrides: not the same run, so seed 0 trains again
    assert "already in" not in again and json.loads(out.read_text())["seeds"] == [0]
