"""Feeding the store without delaying a request: a bounded queue and one writer thread.

The bus callback only appends the finished flow to a deque (O(1), no lock, never blocks); the
thread wakes every :data:`LINGER_S`, turns what arrived into redacted records and writes them in
one transaction. When the queue is full — the disk is slow, the database is locked by another
process for long — flows are counted as dropped, never waited for.
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from ..config import HistorySettings, state_dir
from ..events import EventBus, FlowEvent
from ..flow import Flow
from ..secrets import Redactor
from .sqlite import SQLiteStore
from .store import HistoryStore, record_of

log = logging.getLogger(__name__)
QUEUE_FLOWS = 4096
QUEUE_BYTES = 128 * 1024 * 1024  # request bytes of the flows waiting: bodies are what takes memory
BATCH = 256
#: The writer wakes this often and takes what came meanwhile: one transaction per batch, and no
#: wake-up per flow (a thread woken per request took ~0.3 ms of the proxy's CPU per request under
#: load, mostly GIL hand-offs); the proxy's side is one append, with no lock.
LINGER_S = 0.05
PRUNE_EVERY_S = 600.0


def default_history_path() -> Path:
    return state_dir() / "history.sqlite3"


class HistoryWriter:
    def __init__(self, store: HistoryStore, redactor: Redactor, settings: HistorySettings, *,
                 max_queued: int = QUEUE_FLOWS) -> None:
        self.store = store
        self.settings = settings
        self.process = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.written = 0  # writer side
        self._refused = 0  # proxy side: the queue was full
        self._failed = 0  # writer side: the store refused the batch
        self._redactor = redactor
        self._max_queued = max_queued
        # Appended by the proxy's thread, popped by the writer's: deque ends are safe without a lock.
        # Each counter is changed by one thread only, so no update can be lost.
        self._queue: collections.deque[Flow] = collections.deque()
        self._bytes_in = 0  # proxy side
        self._bytes_out = 0  # writer side
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ccm-history", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Flows not recorded: the queue was full, or the store failed."""
        return self._refused + self._failed

    @property
    def pending(self) -> int:
        """Flows waiting to be written."""
        return len(self._queue)

    # -- proxy side: cheap, never blocks ---------------------------------------------------------
    def on_event(self, event: FlowEvent, flow: Flow) -> None:
        if event is FlowEvent.FINISHED or event is FlowEvent.FAILED:
            self.submit(flow)

    def submit(self, flow: Flow) -> None:
        if (len(self._queue) >= self._max_queued or self._stop.is_set()
                or self._bytes_in - self._bytes_out + flow.request_bytes > QUEUE_BYTES):
            self._refused += 1
            return
        self._bytes_in += flow.request_bytes
        self._queue.append(flow)

    # -- writer thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        self._prune()
        last_prune = time.monotonic()
        while True:
            stopping = self._stop.wait(LINGER_S)
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                self._write(batch)
            if stopping:
                return
            if time.monotonic() - last_prune > PRUNE_EVERY_S:
                self._prune()
                last_prune = time.monotonic()

    def _write(self, flows: list[Flow]) -> None:
        self._bytes_out += sum(f.request_bytes for f in flows)
        try:
            records = [record_of(f, self.process, self._redactor, bodies=self.settings.bodies) for f in flows]
            self.store.write(records)
            self.written += len(records)
        except (sqlite3.Error, OSError, ValueError):  # locked past the busy timeout, disk full, …
            log.exception("history: %d records not written", len(flows))
            self._failed += len(flows)

    def _prune(self) -> None:
        try:
            self.store.prune(retention_s=self.settings.retention_days * 86400.0,
                             max_body_bytes=self.settings.max_mib * 1024 * 1024)
        except (sqlite3.Error, OSError):
            log.exception("history: pruning failed")

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (bounded by ``timeout``), then close the store."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("history: still writing at exit; %d records not written", len(self._queue))
        else:
            self.store.close()


def _history_path(settings: HistorySettings) -> Path:
    return Path(settings.path).expanduser() if settings.path else default_history_path()


def prepare_history(settings: HistorySettings) -> None:
    """Create and migrate the database once, before several processes open it at the same moment."""
    if settings.enabled:
        try:
            SQLiteStore(_history_path(settings)).close()
        except (sqlite3.Error, OSError, RuntimeError):
            pass  # each process reports it when it opens the file


def open_history(settings: HistorySettings, bus: EventBus, redactor: Redactor) -> HistoryWriter | None:
    """A writer subscribed to ``bus``, or None when history is off or the database cannot be opened
    (logged: a broken history never stops the proxy)."""
    if not settings.enabled:
        return None
    path = _history_path(settings)
    try:
        writer = HistoryWriter(SQLiteStore(path), redactor, settings)
    except (sqlite3.Error, OSError, RuntimeError):
        log.exception("history: cannot open %s; this session is not recorded", path)
        return None
    bus.subscribe(writer.on_event)
    return writer
