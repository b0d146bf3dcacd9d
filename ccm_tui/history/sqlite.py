"""The embedded history store: one SQLite file in WAL mode, shared safely by several processes.

The schema is versioned by ``PRAGMA user_version``; each migration runs once, in order, inside one
``BEGIN IMMEDIATE`` transaction (so two processes opening a new file at once migrate it once).
Writes come in batches from one writer per ccm-tui process; readers never block writers (WAL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from .store import GROUPINGS, FlowRecord, SessionRow, UsageRow

BUSY_TIMEOUT_MS = 10_000

#: Migrations, oldest first; the schema version is the number of them applied.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE flows (
        pk INTEGER PRIMARY KEY,
        process TEXT NOT NULL,
        flow_id INTEGER NOT NULL,
        started_at REAL NOT NULL,
        kind TEXT NOT NULL,
        stream INTEGER NOT NULL,
        session_id TEXT,
        agent_id TEXT,
        parent_agent_id TEXT,
        requested_model TEXT,
        route TEXT,
        provider TEXT,
        model TEXT,
        reason TEXT,
        status INTEGER,
        state TEXT NOT NULL,
        first_byte_ms REAL,
        duration_ms REAL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        stop_reason TEXT,
        error TEXT,
        error_type TEXT,
        attempts TEXT NOT NULL,
        notes TEXT NOT NULL,
        body_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (process, flow_id)
    );
    CREATE INDEX flows_started ON flows (started_at);
    CREATE INDEX flows_session ON flows (session_id, started_at);
    CREATE TABLE bodies (
        pk INTEGER PRIMARY KEY REFERENCES flows (pk) ON DELETE CASCADE,
        data BLOB NOT NULL
    );
    """,
)

_COLUMNS = [f.name for f in fields(FlowRecord) if f.name != "bodies"]
_INSERT = f"INSERT OR IGNORE INTO flows ({', '.join(_COLUMNS)}) VALUES "
_ROW = f"({', '.join('?' for _ in _COLUMNS)})"
_ATTEMPTS, _NOTES = _COLUMNS.index("attempts"), _COLUMNS.index("notes")
#: Rows per statement, largest first. Few sizes, because each compiled statement stays cached (one
#: per size: 256 sizes held ~15 MB); 28 values a row stays well under SQLite's 32,766 a statement.
CHUNK_SIZES = (64, 16, 4, 1)
#: What ``usage --by`` groups on (``session`` puts clients without the header under "unknown").
_GROUP_KEYS = {
    "day": "date(started_at, 'unixepoch', 'localtime')",
    "provider": "coalesce(provider, '-')",
    "model": "coalesce(provider || ',' || model, '-')",
    "route": "coalesce(route, '-')",
    "session": "coalesce(session_id, 'unknown')",
}
_SUMS = ("count(*), sum(state = 'failed' OR coalesce(status, 0) >= 400), "
         "sum(input_tokens + cache_write_tokens), sum(output_tokens), sum(cache_read_tokens), "
         "sum(cache_write_tokens), sum(cost_usd)")


def _chunks(records: Sequence[FlowRecord]) -> Iterator[Sequence[FlowRecord]]:
    """``records`` in runs of the sizes in :data:`CHUNK_SIZES` (greedy: 37 = 16 + 16 + 4 + 1)."""
    start = 0
    for size in CHUNK_SIZES:
        while len(records) - start >= size:
            yield records[start:start + size]
            start += size


def _enter_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL. Two processes opening a new file at once can both hold a shared lock
    and want the exclusive one: SQLite then fails one with SQLITE_BUSY at once, without waiting out
    busy_timeout (it cannot wait for a lock it blocks itself). The loser retries, bounded by
    :data:`BUSY_TIMEOUT_MS`; by then the file is usually in WAL already."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SQLiteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)  # private from the first byte
        os.close(fd)
        # The writer owns its connection (on its thread or process); readers open their own store.
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _enter_wal(self._db)
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across crashes of the process
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self.schema_version == len(MIGRATIONS):
            return
        with self._transaction():
            version = self.schema_version  # re-read under the lock: another process may have migrated
            if version > len(MIGRATIONS):
                raise RuntimeError(f"{self.path}: history schema {version} is newer than this ccm-tui knows")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    def _transaction(self):  # type: ignore[no-untyped-def]
        return _Transaction(self._db)

    # -- writing ---------------------------------------------------------------------------------
    def write(self, records: Sequence[FlowRecord]) -> None:
        """One transaction; a few statements per batch, not two per record (where the writer is a thread,
        each statement hands the interpreter to the proxy's thread and back: measured, per-record
        statements cost the proxy several times their own CPU under load). A flow written already
        keeps its first record."""
        with self._transaction():
            for chunk in _chunks(records):
                values: list[Any] = []
                for record in chunk:
                    row = [getattr(record, name) for name in _COLUMNS]
                    row[_ATTEMPTS] = json.dumps(record.attempts)
                    row[_NOTES] = json.dumps(record.notes)
                    values += row
                self._db.execute(_INSERT + ", ".join([_ROW] * len(chunk)), values)
            for chunk in _chunks([r for r in records if r.bodies is not None]):
                self._db.execute(
                    "INSERT INTO bodies (pk, data) SELECT f.pk, v.column3 FROM (VALUES "
                    + ", ".join(["(?, ?, ?)"] * len(chunk))
                    + ") AS v JOIN flows f ON f.process = v.column1 AND f.flow_id = v.column2 "
                    "WHERE NOT EXISTS (SELECT 1 FROM bodies b WHERE b.pk = f.pk)",
                    [value for r in chunk for value in (r.process, r.flow_id, r.bodies)])

    def prune(self, *, retention_s: float, max_body_bytes: int) -> None:
        """Forget flows older than the retention; drop the oldest bodies while they exceed the cap."""
        with self._transaction():
            self._db.execute("DELETE FROM flows WHERE started_at < ?", (time.time() - retention_s,))
            total = self._db.execute(
                "SELECT coalesce(sum(body_bytes), 0) FROM flows WHERE pk IN (SELECT pk FROM bodies)").fetchone()[0]
            if total <= max_body_bytes:
                return
            excess, dropped = total - max_body_bytes * 9 // 10, []  # to 90 %: not again on the next write
            for pk, size in self._db.execute(
                    "SELECT f.pk, f.body_bytes FROM flows f JOIN bodies b ON b.pk = f.pk ORDER BY f.started_at"):
                if excess <= 0:
                    break
                dropped.append((pk,))
                excess -= size
            self._db.executemany("DELETE FROM bodies WHERE pk = ?", dropped)
            self._db.executemany("UPDATE flows SET body_bytes = 0 WHERE pk = ?", dropped)

    # -- reading ---------------------------------------------------------------------------------
    def usage(self, *, since: float, by: str) -> list[UsageRow]:
        if by not in GROUPINGS:
            raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}")
        key = _GROUP_KEYS[by]
        rows = self._db.execute(f"SELECT {key} AS k, {_SUMS} FROM flows WHERE started_at >= ? "
                                f"AND kind = 'messages' GROUP BY k ORDER BY k", (since,))
        return [UsageRow(k, *(int(v or 0) for v in rest[:-1]), float(rest[-1] or 0.0)) for k, *rest in rows]

    def sessions(self, *, since: float, session: str | None = None) -> list[SessionRow]:
        where, args = "started_at >= ? AND kind = 'messages'", [since]
        if session is not None:
            where += " AND coalesce(session_id, 'unknown') = ?"
            args.append(session)
        rows = self._db.execute(
            f"SELECT coalesce(session_id, 'unknown') AS s, min(started_at), max(started_at), "
            f"count(DISTINCT agent_id), group_concat(DISTINCT provider || ',' || model), {_SUMS} "
            f"FROM flows WHERE {where} GROUP BY s ORDER BY min(started_at)", args)
        return [SessionRow(s, first, last, agents, models or "",
                           UsageRow(s, *(int(v or 0) for v in rest[:-1]), float(rest[-1] or 0.0)))
                for s, first, last, agents, models, *rest in rows]

    def records(self, *, since: float, session: str | None = None,
                with_bodies: bool = False) -> Iterator[FlowRecord]:
        where, args = "f.started_at >= ?", [since]
        if session is not None:
            where += " AND coalesce(f.session_id, 'unknown') = ?"
            args.append(session)
        body = "b.data" if with_bodies else "NULL"
        cursor = self._db.execute(f"SELECT {', '.join('f.' + c for c in _COLUMNS)}, {body} FROM flows f "
                                  f"LEFT JOIN bodies b ON b.pk = f.pk WHERE {where} ORDER BY f.started_at", args)
        for row in cursor:
            values = dict(zip(_COLUMNS, row[:-1], strict=True))
            values["stream"] = bool(values["stream"])
            values["attempts"] = json.loads(values["attempts"])
            values["notes"] = json.loads(values["notes"])
            yield FlowRecord(**values, bodies=row[-1])

    def close(self) -> None:
        self._db.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error): takes the write lock up front, so a
    busy database waits ``busy_timeout`` at the start instead of failing half-way."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
