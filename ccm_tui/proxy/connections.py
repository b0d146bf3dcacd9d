"""Keeping the listener alive when connections flood in: file-descriptor limit, accept pacing, quiet logs.

Measured before these: with a 1024-fd limit, 1100 idle connections made asyncio's accept loop retry
(and log a traceback) up to ``backlog`` times per loop pass — 164 MB of log in 80 s — and the proxy
answered nothing until ~70 s after the flood closed.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from typing import Any

try:
    import resource
except ImportError:  # Windows: no RLIMIT_NOFILE to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
#: accept() errors that mean "out of descriptors or memory": retried later, never fatal.
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_PAUSE_S = 0.5  # asyncio retries accept 1 s after a failure; nothing in between
SHED_BATCH = 4096  # connections closed per pass when out of descriptors (bounded: one loop pass)
LOG_INTERVAL_S = 1.0
_MACOS_OPEN_MAX = 10240  # macOS reports an unlimited hard limit but refuses a soft limit above this


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE (often 1024) to the hard limit; the limit now. Every idle client
    holds a descriptor, and every stream two (claude's socket and the upstream's)."""
    if resource is None:
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = [hard] if hard != resource.RLIM_INFINITY else []
    for target in [*wanted, _MACOS_OPEN_MAX]:
        if soft != resource.RLIM_INFINITY and target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            except (ValueError, OSError):
                continue
            log.info("file descriptor limit raised from %d to %d", soft, target)
            return target
    return soft


class Listener(socket.socket):
    """The listening socket, hardened for descriptor exhaustion.

    It holds one spare descriptor. When accept() finds none left, the spare is given up to take the
    waiting connections and close them at once (the clients fail fast instead of hanging in the
    backlog), then taken back — so accepting goes on the moment descriptors are free again, as
    libuv does. Without a spare it reports "nothing waiting" for a moment after a failure: asyncio's
    accept loop (3.11-3.13) would otherwise call it again, log and schedule one more retry each time,
    up to ``backlog`` times per pass.
    """

    _spare: int | None = None
    _shed_log: _ShedLog
    _quiet_until = 0.0

    @classmethod
    def adopt(cls, sock: socket.socket) -> Listener:
        """Take over a bound, listening socket (``sock`` is detached, not closed)."""
        listener = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        listener._spare = _open_spare()
        listener._shed_log = _ShedLog()
        return listener

    def accept(self) -> tuple[socket.socket, Any]:
        if time.monotonic() < self._quiet_until:
            raise BlockingIOError(errno.EAGAIN, "accept paused: out of file descriptors")
        try:
            accepted = super().accept()
        except OSError as exc:
            if exc.errno not in EXHAUSTED:
                raise
            if exc.errno != errno.EMFILE or self._spare is None:  # the spare cannot help; asyncio retries
                self._quiet_until = time.monotonic() + ACCEPT_PAUSE_S
                raise
            self._shed()
            raise BlockingIOError(errno.EAGAIN, "out of file descriptors: waiting connections closed") from None
        if self._spare is None:
            self._spare = _open_spare()
        return accepted

    def _shed(self) -> None:
        assert self._spare is not None
        os.close(self._spare)
        self._spare = None
        shed = 0
        try:
            while shed < SHED_BATCH:
                conn, _ = super().accept()
                conn.close()
                shed += 1
        except OSError:
            pass  # nothing left waiting (or another thread took the descriptor)
        finally:
            self._spare = _open_spare()
        self._shed_log.record(shed)

    def close(self) -> None:
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        super().close()


def _open_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None


class _ShedLog:
    """One line a second at most for connections closed for want of descriptors."""

    def __init__(self) -> None:
        self._last = 0.0
        self._count = 0

    def record(self, shed: int) -> None:
        self._count += shed
        now = time.monotonic()
        if self._count and now - self._last >= LOG_INTERVAL_S:
            log.warning("out of file descriptors: closed %d new connection(s) at once (fd limit %d)",
                        self._count, fd_limit())
            self._last, self._count = now, 0



def fd_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] if resource is not None else 0


class AcceptFailureLog:
    """An event-loop exception handler: accept failures from exhaustion become one log line (no
    traceback) at most once a second, with a count of those held back; the rest go to the default."""

    def __init__(self) -> None:
        self._last = 0.0
        self._held_back = 0

    def __call__(self, loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not (isinstance(exc, OSError) and exc.errno in EXHAUSTED and "accept" in context.get("message", "")):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self._last < LOG_INTERVAL_S:
            self._held_back += 1
            return
        more = f" ({self._held_back} more since the last line)" if self._held_back else ""
        log.warning("cannot accept connections: %s; retrying every second%s", exc.strerror or exc, more)
        self._last, self._held_back = now, 0


#: Writes of one loop pass up to this size wait for the pass to end and leave as one send.
COALESCE_BYTES = 64 * 1024


def install_tcp_server(first_request_s: float) -> None:
    """Install (once, process-wide) Hypercorn's TCP server with two changes; skipped if its layout changed.

    * Timeouts: a connection that sent no request within ``first_request_s``, or whose client hung
      up, is closed; one that has served a request keeps Hypercorn's ``keep_alive_timeout``.
      Hypercorn (0.17-0.18) has one idle timer for both cases. A short one for all would race
      clients that reuse a keep-alive connection just as it closes (httpx keeps them 5 s: "Server
      disconnected without sending a response"); a long one lets an idle flood hold every
      descriptor. And it keeps a connection whose client hung up until that timer fires.
    * Coalesced writes: Hypercorn writes a response's head, body and end as separate writes, each
      a ``send`` system call with Nagle off (a fifth of the proxy's CPU per request, measured).
      Writes made in one loop pass go out together at its end; a stream's chunks, made in separate
      passes, still leave as they come. Back-pressure is unchanged: each write still drains.
    """
    from hypercorn.asyncio import run, tcp_server
    from hypercorn.events import Closed, RawData, Updated

    base = tcp_server.TCPServer
    if run.TCPServer is not base or not all(hasattr(base, name) for name in
                                             ("_read_data", "_idle_timeout", "_initiate_server_close", "_close")):
        return

    class ProxyTCPServer(base):  # type: ignore[misc, valid-type]
        _served = False
        _unsent: list[bytes] | None = None

        async def protocol_send(self, event: Any) -> None:
            if isinstance(event, RawData) and len(event.data) < COALESCE_BYTES:
                if self._unsent is None:
                    self._unsent = []
                    asyncio.get_running_loop().call_soon(self._send_unsent)
                self._unsent.append(event.data)
                if sum(map(len, self._unsent)) >= COALESCE_BYTES:
                    self._send_unsent()
                try:
                    await self.writer.drain()
                except (ConnectionError, RuntimeError):
                    await self.protocol.handle(Closed())
                return
            self._send_unsent()  # before anything else goes out, or the connection closes
            if isinstance(event, Updated) and not event.idle:
                self._served = True  # a request is in flight: from now on keep-alive rules
            await super().protocol_send(event)

        def _send_unsent(self) -> None:
            unsent, self._unsent = self._unsent, None
            if unsent:
                try:
                    self.writer.write(b"".join(unsent))
                except (ConnectionError, RuntimeError):
                    pass  # the connection is gone: its reader notices and closes it

        async def _close(self) -> None:
            self._send_unsent()
            await super()._close()

        async def _read_data(self) -> None:
            await super()._read_data()
            await self.idle_task.stop()  # a request in flight keeps its own task; idle: nothing left

        async def _idle_timeout(self) -> None:
            timeout = self.config.keep_alive_timeout if self._served else first_request_s
            try:
                await asyncio.wait_for(self.context.terminated.wait(), timeout)
            except TimeoutError:
                pass
            await asyncio.shield(self._initiate_server_close())

    run.TCPServer = ProxyTCPServer
