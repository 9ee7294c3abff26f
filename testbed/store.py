"""The SQLite results store: one row per episode, WAL mode, safe for concurrent writers.

Writers append whole batches inside ``BEGIN IMMEDIATE`` transactions with a
busy timeout, so several processes can write one file at once and a batch is
either stored whole or not at all: a failing evaluation never corrupts or loses
rows already in the store. SQLite ships with Python and is the embedded
default; a server database is not needed for one machine.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scenarios import UserError
from testbed.records import EpisodeRecord

SCHEMA_VERSION = 1
_JSON = {"scenario", "params", "returns", "versions"}
_BOOL = {"terminated", "truncated", "deterministic"}
_OPTIONAL_BOOL = {"success", "unstable"}
_COLUMNS = list(EpisodeRecord.model_fields)
_TYPES = {"seed": "INTEGER", "episode": "INTEGER", "length": "INTEGER", "team_return": "REAL", "wall_time_s": "REAL",
          "cost": "REAL",
          **{c: "INTEGER" for c in _BOOL | _OPTIONAL_BOOL}}


class ResultsStore:
    """Append-only episode records in one SQLite file.

    >>> store = ResultsStore(":memory:")
    >>> store.count()
    0
    """

    def __init__(self, path: str | Path, timeout_s: float = 60.0, create: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            p = Path(self.path)
            if not create and not p.is_file():
                raise UserError(f"results database not found: {p}")
            if p.exists() and p.is_dir():
                raise UserError(f"{p} is a folder, not a results database")
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self._create()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path} is not a usable results database: {exc}") from None

    def _create(self) -> None:
        cols = ", ".join(f"{c} {_TYPES.get(c, 'TEXT')}" for c in _COLUMNS)
        with self.transaction() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS episodes (row_id INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
            have = {row[1] for row in cur.execute("PRAGMA table_info(episodes)")}
            for c in _COLUMNS:
                if c not in have:  # a store written by an older version gains the new columns (NULL there)
                    cur.execute(f"ALTER TABLE episodes ADD COLUMN {c} {_TYPES.get(c, 'TEXT')}")
            cur.execute("CREATE INDEX IF NOT EXISTS episodes_group ON episodes (agent, scenario_id, checkpoint)")
            cur.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            cur.execute("CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, experiment TEXT, description TEXT, "
                        "checkpoint TEXT, episodes INTEGER, wall_time_s REAL, finished_at TEXT)")
            cur.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            if not str(version).isdigit() or int(version) > SCHEMA_VERSION:
                raise UserError(f"{self.path} was written by a newer testbed (results schema {version}; this one reads "
                                f"up to {SCHEMA_VERSION}): upgrade to read it")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """An immediate (write-locking) transaction, rolled back on any error."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def add(self, records: Iterable[EpisodeRecord]) -> int:
        """Append records in one transaction; returns how many were written."""
        rows = [self._row(r) for r in records]
        if not rows:
            return 0
        marks = ", ".join("?" for _ in _COLUMNS)
        with self.transaction() as cur:
            cur.executemany(f"INSERT INTO episodes ({', '.join(_COLUMNS)}) VALUES ({marks})", rows)
        return len(rows)

    @staticmethod
    def _row(record: EpisodeRecord) -> tuple[Any, ...]:
        data = record.model_dump()
        return tuple(json.dumps(data[c]) if c in _JSON else int(data[c]) if c in _BOOL
                     else (None if data[c] is None else int(data[c])) if c in _OPTIONAL_BOOL else data[c] for c in _COLUMNS)

    def job_done(self, job_id: str) -> bool:
        """Whether an experiment job's episodes are already stored."""
        return self.conn.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)).fetchone() is not None

    def done_jobs(self, experiment: str | None = None) -> set[str]:
        """Ids of finished jobs (of one experiment, or all)."""
        sql, args = ("SELECT job_id FROM jobs WHERE experiment = ?", (experiment,)) if experiment else ("SELECT job_id FROM jobs", ())
        return {row[0] for row in self.conn.execute(sql, args)}

    def complete_job(self, job_id: str, experiment: str, description: str, checkpoint: str | None,
                     records: list[EpisodeRecord], wall_time_s: float, finished_at: str) -> int:
        """Store a job's episodes and mark it done in one transaction; a job already done adds nothing.

        Either both the rows and the mark are written or neither is, so a driver killed at any
        moment and started again neither loses nor duplicates episodes."""
        rows = [self._row(r.model_copy(update={"job_id": job_id})) for r in records]
        marks = ", ".join("?" for _ in _COLUMNS)
        with self.transaction() as cur:
            if cur.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)).fetchone():
                return 0
            cur.executemany(f"INSERT INTO episodes ({', '.join(_COLUMNS)}) VALUES ({marks})", rows)
            cur.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (job_id, experiment, description, checkpoint, len(rows), wall_time_s, finished_at))
        return len(rows)

    def count(self) -> int:
        """Number of stored episodes."""
        return int(self.conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])

    def records(self, **where: Any) -> list[EpisodeRecord]:
        """Stored episodes, optionally filtered by column equality (``agent='ppo'``)."""
        for key in where:
            if key not in _COLUMNS:
                raise UserError(f"unknown column '{key}' (valid: {', '.join(_COLUMNS)})")
        clause = " AND ".join(f"{k} IS ?" for k in where)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM episodes" + (f" WHERE {clause}" if clause else "") + " ORDER BY row_id"
        out = []
        for row in self.conn.execute(sql, tuple(where.values())):
            data = {}
            for c, v in zip(_COLUMNS, row):
                if v is None and (c in _JSON or c in _BOOL):
                    continue  # a column an older version did not write (NULL there): the record's default
                try:
                    data[c] = json.loads(v) if c in _JSON else bool(int(v)) if c in _BOOL else v
                except (ValueError, TypeError) as exc:
                    raise UserError(f"{self.path}: an episode's '{c}' column is not readable ({exc}); the file was "
                                    "changed outside the testbed") from None
            try:
                out.append(EpisodeRecord.model_validate(data))
            except ValidationError as exc:
                err = exc.errors()[0]
                raise UserError(f"{self.path}: an episode's '{'.'.join(map(str, err['loc']))}' is not valid "
                                f"({err['msg']}); the file was changed outside the testbed") from None
        return out

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
