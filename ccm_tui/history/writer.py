"""Feeding the store without delaying a request: a bounded queue, one thread, and a sink.

The bus callback only appends the finished flow to a deque (O(1), no lock, never blocks); the
thread wakes every :data:`LINGER_S`, snapshots what arrived and hands it to a sink in batches. The
sink is the writer process (:mod:`.process`) unless it cannot run; then, and in tests, it is the
store itself on this thread (:class:`StoreSink`). When the queue is full — the disk is slow, the
database is locked by another process for long — flows are counted as dropped, never waited for.
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
from .sink import Sink, StoreSink
from .sqlite import SQLiteStore
from .store import snapshot

log = logging.getLogger(__name__)
QUEUE_FLOWS = 4096
QUEUE_BYTES = 128 * 1024 * 1024  # request bytes of the flows waiting: bodies are what takes memory
BATCH = 256
#: The writer wakes this often and takes what came meanwhile: one transaction per batch, and no
#: wake-up per flow (a thread woken per request took ~0.3 ms of the proxy's CPU per request under
#: load, mostly GIL hand-offs); the proxy's side is one append, with no lock.
LINGER_S = 0.05


def default_history_path() -> Path:
    return state_dir() / "history.sqlite3"


def process_name() -> str:
    """This process's key in the records: flow ids restart in every process."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


class HistoryWriter:
    def __init__(self, sink: Sink, *, max_queued: int = QUEUE_FLOWS) -> None:
        self.sink = sink
        self._refused = 0  # proxy side: the queue was full
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
    def written(self) -> int:
        return self.sink.written

    @property
    def dropped(self) -> int:
        """Flows not recorded: the queue was full, or the store failed."""
        return self._refused + self.sink.failed

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
        while True:
            self.sink.poll()
            stopping = self._stop.wait(LINGER_S)
            while self._queue:
                flows = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                self._bytes_out += sum(f.request_bytes for f in flows)
                self.sink.write([snapshot(f) for f in flows])
                self.sink.poll()  # the writer process's replies never pile up in their pipe: it never waits on us
            if stopping:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (bounded by ``timeout``), then close the sink."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("history: still writing at exit; %d records not written", len(self._queue))
        elif not self.sink.close(max(0.0, deadline - time.monotonic())):
            log.warning("history: the writer process was still writing at exit; it finishes on its own")


def _history_path(settings: HistorySettings) -> Path:
    return Path(settings.path).expanduser() if settings.path else default_history_path()


def prepare_history(settings: HistorySettings) -> None:
    """Create and migrate the database once, before several processes open it at the same moment."""
    if settings.enabled:
        try:
            SQLiteStore(_history_path(settings)).close()
        except (sqlite3.Error, OSError, RuntimeError):
            pass  # each process reports it when it opens the file


def open_history(settings: HistorySettings, bus: EventBus, redactor: Redactor, *,
                 in_process: bool = False) -> HistoryWriter | None:
    """A writer subscribed to ``bus``, or None when history is off or the database cannot be opened
    (logged: a broken history never stops the proxy). Records are made and written by a process of
    their own (``in_process``: on a thread of this one)."""
    if not settings.enabled:
        return None
    path = _history_path(settings)
    try:
        store = SQLiteStore(path)  # created, migrated and checked here: a problem is reported now
    except (sqlite3.Error, OSError, RuntimeError):
        log.exception("history: cannot open %s; this session is not recorded", path)
        return None
    sink: Sink | None = None
    if not in_process:
        from .process import ProcessSink

        sink = ProcessSink.start(path, redactor, settings, process_name())
    if sink is None:
        sink = StoreSink(store, redactor, settings, process_name())
    else:
        store.close()
    writer = HistoryWriter(sink)
    bus.subscribe(writer.on_event)
    return writer
