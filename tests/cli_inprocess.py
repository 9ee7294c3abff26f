"""Run the testbed CLI inside the test process, through the same ``main()`` the console script calls.

For commands that are refused before any work (a bad name, a bad path, a bad flag), evaluations
of the stateless ``random`` agent and trainings of a few hundred steps whose checkpoint a test
reads: the exit status, stdout and stderr are the subprocess's, without the 3-6 s a new interpreter
spends importing torch, Stable-Baselines3 and the agents for every call (what such a command leaves
behind in the process, such as the global seeds SB3 sets, no test relies on). The end-to-end runs,
kills and one-line checks "as a user sees it" keep their subprocess.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path


def run_inprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``testbed ARGS`` in this process: its exit status, stdout and stderr as a ``CompletedProcess``.
    An exception ``main()`` lets escape propagates (a traceback the user would see fails the test)."""
    from testbed.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd, old_columns = sys.argv, Path.cwd(), os.environ.get("COLUMNS")
    sys.argv, os.environ["COLUMNS"] = ["testbed", *args], "200"
    code: int | str | None = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["testbed", *args], returncode, out.getvalue(), err.getvalue())
