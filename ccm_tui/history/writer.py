"""Feeding the store without delaying a request: a bounded queue and one writer thread.

The bus callback only puts the finished flow on a queue (O(1), never blocks); the thread turns
flows into redacted records and writes them in batches. When the queue is full — the disk is slow,
the database is locked by another process for long — flows are counted as dropped, never waited for.
"""

from __future__ import annotations

import logging
import os
import queue
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
#: After the first flow of a batch, wait this long for more: one wake-up and one transaction per batch, not per
#: flow (a thread woken per request took ~0.3 ms of the proxy's CPU per request under load, mostly GIL hand-offs).
LINGER_S = 0.05
PRUNE_EVERY_S = 600.0
_STOP = object()


def default_history_path() -> Path:
    return state_dir() / "history.sqlite3"


class HistoryWriter:
    def __init__(self, store: HistoryStore, redactor: Redactor, settings: HistorySettings, *,
                 max_queued: int = QUEUE_FLOWS) -> None:
        self.store = store
        self.settings = settings
        self.process = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.written = 0
        self.dropped = 0
        self._redactor = redactor
        self._queue: queue.Queue[object] = queue.Queue(max_queued)
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ccm-history", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Flows waiting to be written."""
        return self._queue.qsize()

    # -- proxy side: cheap, never blocks ---------------------------------------------------------
    def on_event(self, event: FlowEvent, flow: Flow) -> None:
        if event is FlowEvent.FINISHED or event is FlowEvent.FAILED:
            self.submit(flow)

    def submit(self, flow: Flow) -> None:
        with self._lock:
            if self._queued_bytes + flow.request_bytes > QUEUE_BYTES:
                self.dropped += 1
                return
            try:
                self._queue.put_nowait(flow)
            except queue.Full:
                self.dropped += 1
                return
            self._queued_bytes += flow.request_bytes

    # -- writer thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        self._prune()
        last_prune = time.monotonic()
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            if batch[0] is not _STOP:
                time.sleep(LINGER_S)
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            flows = [item for item in batch if item is not _STOP]
            stopping = len(flows) < len(batch)
            if flows:
                self._write(flows)  # type: ignore[arg-type]
            if time.monotonic() - last_prune > PRUNE_EVERY_S:
                self._prune()
                last_prune = time.monotonic()

    def _write(self, flows: list[Flow]) -> None:
        with self._lock:
            self._queued_bytes -= sum(f.request_bytes for f in flows)
        try:
            records = [record_of(f, self.process, self._redactor, bodies=self.settings.bodies) for f in flows]
            self.store.write(records)
            self.written += len(records)
        except (sqlite3.Error, OSError, ValueError):  # locked past the busy timeout, disk full, …
            log.exception("history: %d records not written", len(flows))
            self.dropped += len(flows)

    def _prune(self) -> None:
        try:
            self.store.prune(retention_s=self.settings.retention_days * 86400.0,
                             max_body_bytes=self.settings.max_mib * 1024 * 1024)
        except (sqlite3.Error, OSError):
            log.exception("history: pruning failed")

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (bounded by ``timeout``), then close the store."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("history: queue still full at exit; %d records not written", self._queue.qsize())
        self._thread.join(timeout)
        if not self._thread.is_alive():
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
