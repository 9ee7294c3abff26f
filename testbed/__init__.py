"""The testbed harness: evaluate any agent on any scenario, store one record per
episode in SQLite, and summarize with honest statistics.

``evaluate``, ``EpisodeRecord`` and ``ResultsStore`` are imported on first use
(PEP 562), so ``import testbed.cli`` (``testbed --help``) does not pay for torch.
"""

import importlib
import os
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering (report videos); must precede the first mujoco import

_EXPORTS = {"evaluate": "testbed.harness", "EpisodeRecord": "testbed.records", "ResultsStore": "testbed.store"}

__all__ = ["EpisodeRecord", "ResultsStore", "evaluate"]


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'testbed' has no attribute '{name}'")
