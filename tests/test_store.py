"""The SQLite results store: round trip, concurrent writers, atomic batches."""

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from scenarios import UserError
from testbed.records import EpisodeRecord
from testbed.store import ResultsStore


def record(i: int, agent: str = "random") -> EpisodeRecord:
    return EpisodeRecord(
        run_id="r", scenario_id="classic/CartPole-v1", scenario={"id": "classic/CartPole-v1"}, params={"mass": 1.0 + i},
        agent=agent, checkpoint=None, seed=i, episode=i, returns={"agent_0": float(i)}, team_return=float(i),
        aggregation="sum", length=10 + i, terminated=True, truncated=False, wall_time_s=0.1, deterministic=True,
        versions={"numpy": "x"}, created_at="2026-01-01T00:00:00+00:00",
    )


def test_round_trip(tmp_path: Path):
    store = ResultsStore(tmp_path / "r.db")
    recs = [record(i) for i in range(5)]
    assert store.add(recs) == 5
    assert store.records() == recs
    assert [r.episode for r in store.records(agent="random")] == list(range(5))
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _writer(path: str, worker: int, n: int) -> None:
    store = ResultsStore(path)
    for i in range(n):
        store.add([record(i, agent=f"w{worker}")])


def test_concurrent_writers_lose_nothing(tmp_path: Path):
    path = str(tmp_path / "c.db")
    ResultsStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultsStore(path)
    assert store.count() == 240
    for w in range(4):
        assert sorted(r.episode for r in store.records(agent=f"w{w}")) == list(range(60))


def test_failed_batch_leaves_earlier_rows_intact(tmp_path: Path):
    store = ResultsStore(tmp_path / "a.db")
    store.add([record(0), record(1)])

    class Broken:
        def model_dump(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.add([record(2), Broken()])  # type: ignore[list-item]
    with pytest.raises(sqlite3.Error):
        with store.transaction() as cur:
            cur.execute("INSERT INTO episodes (agent) VALUES ('half')")
            cur.execute("INSERT INTO no_such_table VALUES (1)")
    assert [r.episode for r in store.records()] == [0, 1]


def test_missing_database_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="results database not found"):
        ResultsStore(tmp_path / "absent.db", create=False)


def test_not_a_database_is_a_user_error(tmp_path: Path):
    bad = tmp_path / "bad.db"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(UserError, match="not a usable results database"):
        ResultsStore(bad)
