"""The testbed harness: evaluate any agent on any scenario, store one record per
episode in SQLite, and summarize with honest statistics."""

from testbed.harness import evaluate
from testbed.records import EpisodeRecord
from testbed.store import ResultsStore

__all__ = ["EpisodeRecord", "ResultsStore", "evaluate"]
