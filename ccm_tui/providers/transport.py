"""HTTP/1.1 to the upstreams: an httpx transport that keeps idle connections in a plain stack.

httpx stays the client API; this replaces httpcore's generic pool underneath it, which per request
rescanned every connection and queued request, polled each idle socket's state with a syscall, and
tried ``import sniffio`` on every call. Here a request pops the most recently used idle connection
of its origin (a dead one is noticed without a syscall: its reader already saw EOF) or opens one,
and the connection goes back on the stack when its body was read to the end.

A request that dies before any byte of its answer is retried on a fresh connection, with backoff,
while the connect timeout lasts: a refused or failed connect, or a reused keep-alive connection the
upstream had closed (its request never reached a live peer). A fresh connection that fails after
the request went out is never retried: the upstream may have acted on it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable

import httpx

HEAD_LIMIT = 256 * 1024  # status line + headers
READ_BYTES = 64 * 1024
MAX_IDLE = 64  # idle connections kept per origin
KEEPALIVE_S = 5.0  # an idle connection older than this is closed, not reused
RETRIES = 3
MAX_INFORMATIONAL = 8  # 1xx answers skipped before the real one; more is a protocol error
BACKOFF_S = 0.025

Origin = tuple[bytes, str, int]


class _StaleConnection(Exception):
    """Failed before any response byte on a connection that may be retried."""

    def __init__(self, error: httpx.TransportError) -> None:
        self.error = error


class _Connection:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return (not self.reader.at_eof() and self.reader.exception() is None and not self.writer.is_closing()
                and now - self.idle_since < KEEPALIVE_S)

    def close(self) -> None:
        self.writer.close()


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(self, ssl_context: Callable[[], ssl.SSLContext] = ssl.create_default_context, *,
                 max_idle: int = MAX_IDLE) -> None:
        self._ssl = ssl_context  # called on the first https connection: loading CA certificates takes tens of ms
        self._max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = {}
        self.opened = 0  # connections opened so far (tests, diagnostics)

    @property
    def idle(self) -> int:
        return sum(len(stack) for stack in self._idle.values())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        origin: Origin = (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == b"https" else 80))
        timeouts = request.extensions.get("timeout", {})
        head = _request_head(request)
        body = await request.aread()
        connect_s = timeouts.get("connect")
        deadline = time.monotonic() + (connect_s if connect_s is not None else 30.0)
        for attempt in range(RETRIES + 1):
            conn = self._checkout(origin) if attempt == 0 else None  # a retry always opens a fresh one
            reused = conn is not None
            try:
                if conn is None:
                    conn = await self._connect(origin, connect_s)
                return await self._exchange(request, origin, conn, head + body, reused, timeouts)
            except _StaleConnection as stale:
                if attempt == RETRIES or time.monotonic() >= deadline:
                    raise stale.error from None
                pause = 0.0 if reused and attempt == 0 else BACKOFF_S * 2 ** attempt
                await asyncio.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
        raise AssertionError("unreachable")

    async def preconnect(self, url: httpx.URL, timeout: float | None) -> None:
        """Open one connection to ``url``'s origin (TCP, TLS) and keep it idle for the first request."""
        scheme = url.raw_scheme
        origin: Origin = (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == b"https" else 80))
        if not self._idle.get(origin):
            try:
                conn = await self._connect(origin, timeout)
            except _StaleConnection as failed:
                raise failed.error from None
            self._checkin(origin, conn)

    async def aclose(self) -> None:
        stacks, self._idle = self._idle, {}
        for stack in stacks.values():
            for conn in stack:
                conn.close()

    def _checkout(self, origin: Origin) -> _Connection | None:
        stack = self._idle.get(origin)
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if conn.usable(now):
                return conn
            conn.close()
        return None

    def _checkin(self, origin: Origin, conn: _Connection) -> None:
        conn.idle_since = now = time.monotonic()
        stack = self._idle.setdefault(origin, [])
        while stack and (len(stack) >= self._max_idle or not stack[0].usable(now)):
            stack.pop(0).close()  # the oldest first
        stack.append(conn)

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl() if scheme == b"https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None, limit=HEAD_LIMIT)
        except TimeoutError:
            raise _StaleConnection(httpx.ConnectTimeout(f"connect to {host}:{port} timed out")) from None
        except (OSError, ssl.SSLError) as exc:
            raise _StaleConnection(httpx.ConnectError(f"{type(exc).__name__}: {exc}")) from None
        self.opened += 1
        return _Connection(reader, writer)

    async def _exchange(self, request: httpx.Request, origin: Origin, conn: _Connection, data: bytes,
                        reused: bool, timeouts: dict[str, float | None]) -> httpx.Response:
        try:
            try:
                conn.writer.write(data)
                if conn.writer.transport.get_write_buffer_size():
                    async with asyncio.timeout(timeouts.get("write")):
                        await conn.writer.drain()
            except TimeoutError:
                raise httpx.WriteTimeout("writing the request timed out") from None
            except OSError as exc:  # the peer is gone before reading the request: safe to send again
                raise _StaleConnection(httpx.WriteError(f"{type(exc).__name__}: {exc}")) from None
            status, reason, headers, http10 = await _read_head(conn.reader, timeouts.get("read"), reused)
        except BaseException:
            conn.close()
            raise
        length, chunked, keep = _framing(request.method, status, headers, http10)
        if length == 0 and not chunked:
            self._release(origin, conn, keep)
            stream: httpx.AsyncByteStream = httpx.ByteStream(b"")
        else:
            stream = _Body(self, origin, conn, length, chunked, keep, timeouts.get("read"))
        return httpx.Response(status, headers=headers, stream=stream, request=request,
                              extensions={"http_version": b"HTTP/1.0" if http10 else b"HTTP/1.1",
                                          "reason_phrase": reason})

    def _release(self, origin: Origin, conn: _Connection, reusable: bool) -> None:
        if reusable and conn.reader._buffer == b"":  # type: ignore[attr-defined]  # nothing unasked-for left
            self._checkin(origin, conn)
        else:
            conn.close()


def _request_head(request: httpx.Request) -> bytes:
    target = request.url.raw_path or b"/"
    lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
            raise httpx.LocalProtocolError("illegal character in a request header")
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)


async def _read_head(reader: asyncio.StreamReader, timeout: float | None, reused: bool
                     ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    """Status line and headers (informational 1xx answers skipped, a few at most)."""
    first = True
    for _ in range(MAX_INFORMATIONAL + 1):
        try:
            async with asyncio.timeout(timeout):
                raw = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise httpx.ReadTimeout("no answer from the upstream in time") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("response headers too large") from None
        except (asyncio.IncompleteReadError, OSError) as exc:
            partial = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
            error: httpx.TransportError = (
                httpx.ReadError(f"{type(exc).__name__}: {exc}") if isinstance(exc, OSError)
                else httpx.RemoteProtocolError("Server disconnected without sending a response."))
            if reused and first and not partial:  # a keep-alive connection the upstream had dropped
                raise _StaleConnection(error) from None
            raise error from None
        first = False
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200 and status != 101:
            continue
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise httpx.RemoteProtocolError("malformed response header")
            headers.append((name, value.strip(b" \t")))
        return status, parts[2] if len(parts) > 2 else b"", headers, parts[0] == b"HTTP/1.0"
    raise httpx.RemoteProtocolError(f"more than {MAX_INFORMATIONAL} informational (1xx) answers")


def _framing(method: str, status: int, headers: list[tuple[bytes, bytes]], http10: bool
             ) -> tuple[int | None, bool, bool]:
    """(content length or None = until close, chunked, keep-alive afterwards)."""
    length: int | None = None
    chunked = False
    keep = not http10
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-length":
            if not value.isdigit() or (length is not None and length != int(value)):
                raise httpx.RemoteProtocolError("malformed Content-Length")
            length = int(value)
        elif lname == b"transfer-encoding":
            chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            if not chunked:
                keep = False
        elif lname == b"connection" and b"close" in value.lower():
            keep = False
    if method == "HEAD" or status in (204, 304):
        return 0, False, keep
    if chunked:
        return None, True, keep
    if length is None:
        return None, False, False  # read until the upstream closes
    return length, False, keep


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; the connection goes back to the stack once read to the end."""

    def __init__(self, transport: Http1Transport, origin: Origin, conn: _Connection, length: int | None,
                 chunked: bool, keep: bool, timeout: float | None) -> None:
        self._transport, self._origin, self._conn = transport, origin, conn
        self._length, self._chunked, self._keep, self._timeout = length, chunked, keep, timeout
        self._done = False
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader, timeout = self._conn.reader, self._timeout
        try:
            if self._chunked:
                async for piece in self._chunks(reader, timeout):
                    yield piece
            else:
                remaining = self._length
                while remaining is None or remaining > 0:
                    async with asyncio.timeout(timeout):
                        data = await reader.read(READ_BYTES if remaining is None else min(remaining, READ_BYTES))
                    if not data:
                        if remaining is None:
                            break
                        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
                    if remaining is not None:
                        remaining -= len(data)
                    yield data
            self._done = True
        except TimeoutError:
            raise httpx.ReadTimeout("the upstream stopped sending") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body") from None
        except OSError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from None
        finally:
            if self._done:
                self._finish()

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader, timeout: float | None) -> AsyncIterator[bytes]:
        while True:
            async with asyncio.timeout(timeout):
                line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                size = -1
            if size < 0:  # int() takes a sign: "-5" would read to the end of the connection
                raise httpx.RemoteProtocolError("malformed chunk size")
            if size == 0:
                async with asyncio.timeout(timeout):
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                return
            while size:
                async with asyncio.timeout(timeout):
                    data = await reader.read(min(size, READ_BYTES))
                if not data:
                    raise asyncio.IncompleteReadError(b"", size)
                size -= len(data)
                yield data
            async with asyncio.timeout(timeout):
                if await reader.readexactly(2) != b"\r\n":
                    raise httpx.RemoteProtocolError("malformed chunk end")

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport._release(self._origin, self._conn, self._keep and self._done)

    async def aclose(self) -> None:
        self._finish()
