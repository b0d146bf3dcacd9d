"""Where the writer's batches of snapshots go, and the one sink that writes them to a store.

:class:`StoreSink` runs wherever records are made: in the writer process (:mod:`.child`) and, where
that cannot run, on the writer thread itself. It imports little, since the writer process does.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Protocol

from ..secrets import Redactor
from .store import HistoryStore, Snapshot, record_from

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 600.0


class Sink(Protocol):
    """Where the writer thread's batches go."""

    written: int  # records stored
    failed: int  # records refused by the store, or lost with the writer process

    def write(self, snapshots: list[Snapshot]) -> None:
        """Store (or send on) one batch; never raises: a failure is counted and reported."""

    def poll(self) -> None:
        """Between batches: catch up on what was stored meanwhile; prune when due."""

    def close(self, timeout: float) -> bool:
        """Finish (bounded by ``timeout``); True when every record handed over was dealt with."""


class Keeping(Protocol):
    """What a store sink keeps, and for how long (``[history]``: config.HistorySettings)."""

    bodies: bool
    retention_days: float
    max_mib: int


def log_problem(message: str, exc: BaseException) -> None:
    log.error("%s: %s", message, exc, exc_info=exc)


class StoreSink:
    """Records made from snapshots and written to ``store`` on the calling thread; a failure goes to
    ``on_problem`` (the log, unless the writer process relays it to the proxy's)."""

    def __init__(self, store: HistoryStore, redactor: Redactor, keeping: Keeping, process: str, *,
                 on_problem: Callable[[str, BaseException], None] = log_problem) -> None:
        self.store = store
        self.redactor = redactor  # replaced by the writer process when the proxy's keys change
        self.process = process
        self.written = self.failed = 0
        self._keeping = keeping
        self._on_problem = on_problem
        self._next_prune = 0.0

    def write(self, snapshots: list[Snapshot]) -> None:
        try:
            self.store.write([record_from(s, self.process, self.redactor, bodies=self._keeping.bodies)
                              for s in snapshots])
            self.written += len(snapshots)
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:  # locked past the busy timeout, disk full, …
            self._on_problem(f"history: {len(snapshots)} records not written", exc)
            self.failed += len(snapshots)

    def poll(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        try:
            self.store.prune(retention_s=self._keeping.retention_days * 86400.0,
                             max_body_bytes=self._keeping.max_mib * 1024 * 1024)
        except (sqlite3.Error, OSError) as exc:
            self._on_problem("history: pruning failed", exc)

    def close(self, timeout: float) -> bool:
        self.store.close()
        return True
