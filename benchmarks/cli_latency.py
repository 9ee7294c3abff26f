"""How long the command line takes to answer: wall time of ``testbed --help``, ``testbed list``,
``testbed list agents`` and two error paths, median of N runs each (interleaved), as a user
runs them (the console script, a fresh process each time).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cli_latency.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "testbed --help": ["--help"],
    "testbed train --help": ["train", "--help"],
    "testbed list": ["list"],
    "testbed list agents": ["list", "agents"],
    "error: unknown agent": ["train", "ppx", "classic/CartPole-v1"],
    "error: unknown scenario (train)": ["train", "ppo", "classic/CartPol-v1"],
    "error: unknown scenario (describe)": ["describe", "classic/CartPol-v1"],
    "error: --set value of the wrong type": ["train", "ppo", "classic/CartPole-v1", "--set", "n_steps=abc"],
    "error: unknown hyperparameter": ["train", "ppo", "classic/CartPole-v1", "--set", "n_step=5"],
    "error: checkpoint not found": ["evaluate", "runs/none", "classic/CartPole-v1"],
    "error: unknown attack": ["evaluate", "random", "classic/CartPole-v1", "--attack", "cw"],
    "error: missing results database": ["results", "no_such.db"],
    "error: missing experiment spec": ["run", "no_such.yaml"],
    "error: report of a missing database": ["report", "no_such.db"],
    "error: tune an unknown agent": ["tune", "ppx", "classic/CartPole-v1"],
}


def main() -> None:
    """Time every command ``--runs`` times and print a markdown table of medians."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    exe = str(Path(sys.executable).parent / "testbed")
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run([exe, *argv], capture_output=True)
            times[name].append(time.perf_counter() - t0)
    print("| command | median wall (s) | min | max |\n|---|---|---|---|")
    for name, ts in times.items():
        print(f"| `{name}` | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} |")


if __name__ == "__main__":
    main()
