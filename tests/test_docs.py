"""The documentation site builds with warnings as errors, and its pages carry the README's
sections and the API reference from the docstrings."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strict_with_every_page(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = tmp_path / "site"
    for page in ("scenarios", "layers", "agents", "marl", "imitation", "adversarial", "experiments", "reports", "sim2real", "cli"):
        assert (site / page / "index.html").stat().st_size > 5_000, page
    assert "testbed tune" in (site / "experiments" / "index.html").read_text()
    assert "check_values" in (site / "api" / "agents" / "index.html").read_text()  # docstrings reach the reference
