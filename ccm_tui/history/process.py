"""The history writer process: records made and written outside the proxy's interpreter.

On a thread, history's work (JSON, redaction, compression, SQLite) shared the proxy's interpreter
lock, and under load cost the proxy three to four times its own CPU (bench/RESULTS.md: 0.15-0.2 ms
per stream request at 1,000 requests/s). Now the proxy's process only snapshots and marshals each
flow (~10 µs) and writes each batch to a pipe; this child does the rest.

The child (:mod:`.child`, which also defines what the pipes carry) exits when its stdin closes —
the parent finished, or died — after writing what it has. It runs in a session of its own, so a
Ctrl-C in the terminal reaches only the parent, which then closes the pipe.
"""

from __future__ import annotations

import logging
import marshal
import os
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..secrets import Redactor
from .child import LENGTH, frame
from .sink import Sink, StoreSink
from .sqlite import SQLiteStore
from .store import Snapshot

if TYPE_CHECKING:
    from ..config import HistorySettings

log = logging.getLogger(__name__)
#: A batch goes in frames of about this size: the child holds one frame at a time.
FRAME_BYTES = 4 * 1024 * 1024
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the ccm_tui package
# -I: no environment variables, user site or current folder decide what the child imports.
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from ccm_tui.history.child import main; main()"


class ProcessSink:
    """The writer thread's side: snapshots go to the child; its counts come back. If the child
    dies, what it had not confirmed counts as failed, and writing goes on in this process."""

    def __init__(self, proc: subprocess.Popen[bytes], path: Path, redactor: Redactor,
                 settings: HistorySettings, process: str) -> None:
        self._written = self._failed = 0  # by the child (and the skipped); the fallback counts its own
        self._proc, self._path, self._redactor, self._settings, self._process = proc, path, redactor, settings, process
        self._sent = 0  # records handed to the child
        self._confirmed = 0  # of those, reported written or failed by it
        self._replies = bytearray()
        self._secrets = redactor.values  # what the child was last sent
        self._fallback: Sink | None = None  # a StoreSink once the child is gone
        assert proc.stdout is not None
        self._replies_fd = proc.stdout.fileno()
        os.set_blocking(self._replies_fd, False)

    @classmethod
    def start(cls, path: Path, redactor: Redactor, settings: HistorySettings, process: str) -> ProcessSink | None:
        """The child started and greeted, or None (logged) where it cannot run."""
        if os.name != "posix" or not sys.executable:
            return None
        env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "LC_CTYPE")}  # no keys
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, _ROOT], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        except OSError:
            log.exception("history: the writer process did not start; writing on a thread instead")
            return None
        sink = cls(proc, path, redactor, settings, process)
        sink._send(frame(b"H", marshal.dumps((os.path.abspath(path), process, settings.bodies,
                                               settings.retention_days, settings.max_mib, sink._secrets))))
        return sink

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def written(self) -> int:
        return self._written + (self._fallback.written if self._fallback is not None else 0)

    @property
    def failed(self) -> int:
        return self._failed + (self._fallback.failed if self._fallback is not None else 0)

    def write(self, snapshots: list[Snapshot]) -> None:
        if self._fallback is None and self._redactor.values is not self._secrets:
            self._secrets = self._redactor.values
            self._send(frame(b"S", marshal.dumps(self._secrets)))
        if self._fallback is not None:
            self._fallback.write(snapshots)
            return
        items: list[tuple[Snapshot, bytes]] = []
        for snap in snapshots:
            try:
                items.append((snap, marshal.dumps(snap)))
            except ValueError:  # not plain data: a bug upstream of here, not a reason to lose the batch
                log.error("history: flow #%s holds what cannot be recorded; skipped", snap[0])
                self._failed += 1
        start = 0
        while start < len(items):
            end, size = start, 0
            while end < len(items) and size < FRAME_BYTES:
                size += len(items[end][1])
                end += 1
            if not self._send(frame(b"F", b"".join(LENGTH.pack(len(item)) + item for _, item in items[start:end]))):
                assert self._fallback is not None  # the child is gone: the rest is written here
                self._fallback.write([snap for snap, _ in items[start:]])
                return
            self._sent += end - start
            start = end

    def _send(self, data: bytes) -> bool:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (OSError, ValueError):
            self._child_gone()
            return False
        return True

    def poll(self) -> None:
        if self._fallback is not None:
            self._fallback.poll()
        elif not self._read_replies():
            self._child_gone()

    def _read_replies(self) -> bool:
        """Count what the child confirmed so far; False once it has closed its end."""
        while True:
            try:
                data = os.read(self._replies_fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self._replies += data
            while len(self._replies) >= LENGTH.size:
                size = LENGTH.unpack_from(self._replies)[0]
                if len(self._replies) < LENGTH.size + size:
                    break
                written, failed, problem = marshal.loads(self._replies[LENGTH.size + 1:LENGTH.size + size])
                del self._replies[:LENGTH.size + size]
                self._written, self._failed = self._written + written, self._failed + failed
                self._confirmed += written + failed
                if problem:
                    log.error("%s (in the writer process)", self._redactor.text(problem))

    def _child_gone(self) -> None:
        if self._fallback is not None:
            return
        self._read_replies()
        lost = self._lose_unconfirmed()
        if self._proc.poll() is None:  # its pipes are closed: it can do nothing more
            self._proc.kill()
        log.error("history: the writer process ended (exit code %s); %d records lost; writing on a thread from now on",
                  self._proc.wait(), lost)
        try:
            self._fallback = StoreSink(SQLiteStore(self._path), self._redactor, self._settings, self._process)
        except (sqlite3.Error, OSError, RuntimeError):
            log.exception("history: cannot open %s; this session is no longer recorded", self._path)
            self._fallback = _Refusing()

    def close(self, timeout: float) -> bool:
        if self._fallback is not None:
            return bool(self._fallback.close(timeout))
        deadline = time.monotonic() + timeout
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.close()  # the child writes what it has, then exits
        except OSError:
            pass
        while (left := deadline - time.monotonic()) > 0:
            select.select([self._replies_fd], [], [], left)
            if not self._read_replies():
                try:
                    self._proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return False
                return self._lose_unconfirmed() == 0
        return False

    def _lose_unconfirmed(self) -> int:
        """Count what the child took but never confirmed (it is gone) as failed; how many."""
        lost, self._confirmed = self._sent - self._confirmed, self._sent
        self._failed += lost
        return lost


class _Refusing:
    """The child is gone and the file cannot be opened here: what comes is counted as failed."""

    written = failed = 0

    def write(self, snapshots: list[Snapshot]) -> None:
        self.failed += len(snapshots)

    def poll(self) -> None:
        pass

    def close(self, timeout: float) -> bool:
        return True
