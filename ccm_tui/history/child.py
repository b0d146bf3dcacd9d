"""The history writer process itself (see :mod:`.process` for why, and for the parent's side).

The pipes carry frames: a 4-byte big-endian length, then a payload whose first byte names it.
Parent → child: ``H`` hello (marshal of path, process key, bodies?, retention, body cap, secrets),
``S`` the secrets again when they change (a reload's keys, claude's learned credential), ``F`` a
batch (each snapshot marshalled, with a 4-byte length). Child → parent, once per batch: ``R``,
marshal of (written, failed, problem or None). The child exits when its stdin closes — the parent
finished, or died — after writing what it has. It imports no more than it needs: it is a process
for as long as ccm-tui runs.
"""

from __future__ import annotations

import marshal
import signal
import sqlite3
import struct
import sys
import time
from collections.abc import Iterator
from typing import IO

from ..secrets import Redactor
from .sqlite import SQLiteStore
from .store import Snapshot, record_from

LENGTH = struct.Struct(">I")
PRUNE_EVERY_S = 600.0


def frame(kind: bytes, body: bytes) -> bytes:
    return LENGTH.pack(len(body) + 1) + kind + body


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next payload, or None at the end of the stream."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    body = stream.read(LENGTH.unpack(head)[0])
    return body if len(body) == LENGTH.unpack(head)[0] else None


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
    path, process, bodies, retention_s, max_body_bytes, secrets = marshal.loads(memoryview(hello)[1:])
    redactor = Redactor(secrets)
    try:
        store = SQLiteStore(path)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        reply(0, 0, f"cannot open {path}: {exc}")
        return

    def prune() -> None:
        try:
            store.prune(retention_s=retention_s, max_body_bytes=max_body_bytes)
        except (sqlite3.Error, OSError) as exc:
            reply(0, 0, f"pruning failed: {exc}")

    prune()
    next_prune = time.monotonic() + PRUNE_EVERY_S
    try:
        while (payload := read_frame(stdin)) is not None:
            kind, body = payload[:1], memoryview(payload)[1:]
            if kind == b"S":
                redactor = Redactor(marshal.loads(body))
                continue
            snapshots = list(items(body))
            try:
                store.write([record_from(s, process, redactor, bodies=bodies) for s in snapshots])
                reply(len(snapshots), 0)
            except (sqlite3.Error, OSError, ValueError) as exc:  # locked past the busy timeout, disk full, …
                reply(0, len(snapshots), f"{len(snapshots)} records not written: {exc}")
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_S
                prune()
    finally:
        store.close()
