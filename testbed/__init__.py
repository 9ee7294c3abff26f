"""The testbed harness: evaluate any agent on any scenario, store one record per
episode in SQLite, and summarize with honest statistics."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering (report videos); must precede the first mujoco import

from testbed.harness import evaluate  # noqa: E402
from testbed.records import EpisodeRecord  # noqa: E402
from testbed.store import ResultsStore  # noqa: E402

__all__ = ["EpisodeRecord", "ResultsStore", "evaluate"]
