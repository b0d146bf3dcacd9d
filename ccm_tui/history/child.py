"""The history writer process itself (see :mod:`.process` for why, and for the parent's side).

The pipes carry frames: a 4-byte big-endian length, then a payload whose first byte names it.
Parent → child: ``H`` hello (marshal of path, process key, ``[history]``'s bodies, retention_days
and max_mib, secrets), ``S`` the secrets again when they change (a reload's keys, claude's learned
credential), ``F`` a batch (each snapshot marshalled, with a 4-byte length). Child → parent, once per batch: ``R``,
marshal of (written, failed, problem or None). The child exits when its stdin closes — the parent
finished, or died — after writing what it has. It writes with the same :class:`.sink.StoreSink` the
thread writer uses, and relays that sink's problems to the parent's log. It imports no more than it
needs: it is a process for as long as ccm-tui runs.
"""

from __future__ import annotations

import marshal
import signal
import sqlite3
import struct
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import IO

from ..secrets import Redactor
from .sink import StoreSink
from .sqlite import SQLiteStore
from .store import Snapshot

LENGTH = struct.Struct(">I")


def frame(kind: bytes, body: bytes) -> bytes:
    return LENGTH.pack(len(body) + 1) + kind + body


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next payload, or None at the end of the stream."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    size = LENGTH.unpack(head)[0]
    body = stream.read(size)
    return body if len(body) == size else None


def items(body: memoryview) -> Iterator[Snapshot]:
    at = 0
    while at < len(body):
        size = LENGTH.unpack_from(body, at)[0]
        yield marshal.loads(body[at + LENGTH.size:at + LENGTH.size + size])
        at += LENGTH.size + size


class _Replies:
    """The child's counts to the parent; once the parent is gone, the rest of the pipe is still written."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out: IO[bytes] | None = out

    def __call__(self, written: int, failed: int, problem: str | None = None) -> None:
        if self._out is None:
            return
        try:
            self._out.write(frame(b"R", marshal.dumps((written, failed, problem))))
            self._out.flush()
        except OSError:  # the parent died: nobody reads this any more
            self._out = None


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this ends: it closes stdin
    stdin, reply = sys.stdin.buffer, _Replies(sys.stdout.buffer)
    hello = read_frame(stdin)
    if hello is None:
        return
    path, process, bodies, retention_days, max_mib, secrets = marshal.loads(memoryview(hello)[1:])
    try:
        store = SQLiteStore(path)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        reply(0, 0, f"history: cannot open {path}: {exc}")
        return
    problems: list[str] = []
    keeping = SimpleNamespace(bodies=bodies, retention_days=retention_days, max_mib=max_mib)
    sink = StoreSink(store, Redactor(secrets), keeping, process,
                     on_problem=lambda message, exc: problems.append(f"{message}: {exc}"))

    def report(written: int = 0, failed: int = 0) -> None:
        if written or failed or problems:
            reply(written, failed, "; ".join(problems) or None)
            problems.clear()

    try:
        sink.poll()  # prunes now, and again when due
        report()
        while (payload := read_frame(stdin)) is not None:
            kind, body = payload[:1], memoryview(payload)[1:]
            if kind == b"S":
                sink.redactor = Redactor(marshal.loads(body))
                continue
            written, failed = sink.written, sink.failed
            sink.write(list(items(body)))
            sink.poll()
            report(sink.written - written, sink.failed - failed)
    finally:
        store.close()
