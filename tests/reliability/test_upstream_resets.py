"""An upstream that drops connections: what never reached a live peer is sent again on a fresh
connection, so a client sees no error; what may have reached one is never sent twice."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Iterator

import httpx
import pytest

from ccm_tui.providers import transport
from ccm_tui.providers.transport import Http1Transport
from tests.reliability.conftest import BODY, auth, stream_events, two_provider_config
from tests.reliability.test_load import check_stream

TEXT = "one two three"
STREAMS = 256
ROUNDS = 3


class ResettingUpstream:
    """Raw HTTP/1.1 keep-alive upstream in its own thread. Each connection answers its first request
    (a valid Anthropic stream, Content-Length framed, kept alive) and resets (RST) when a second one
    arrives, without answering it: every reused connection fails before any response byte.
    ``reset_fresh`` instead resets every connection once its first request was read."""

    def __init__(self, *, reset_fresh: bool = False) -> None:
        self.reset_fresh = reset_fresh
        self.answered = self.resets = self.requests = 0
        body = b"".join(stream_events(TEXT))
        self.answer = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: "
                       + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for served in range(2):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.requests += 1
                if served == 1 or self.reset_fresh:
                    break
                writer.write(self.answer)
                await writer.drain()
                self.answered += 1
            self.resets += 1
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        except (asyncio.IncompleteReadError, OSError):
            pass
        writer.transport.abort()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)

        server = self.loop.run_until_complete(asyncio.start_server(self._conn, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()


@pytest.fixture
def resetting() -> Iterator[ResettingUpstream]:
    upstream = ResettingUpstream()
    thread = threading.Thread(target=upstream.run, daemon=True)
    thread.start()
    assert upstream.ready.wait(10)
    yield upstream
    upstream.loop.call_soon_threadsafe(upstream.loop.stop)
    thread.join(5)


@pytest.mark.timeout(300)
async def test_concurrent_streams_through_resetting_upstream_have_zero_errors(resetting, start_proxy) -> None:
    server = start_proxy(two_provider_config(f"http://127.0.0.1:{resetting.port}"))
    limits = httpx.Limits(max_connections=STREAMS + 8, max_keepalive_connections=STREAMS)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=auth(server)) as client:

        async def one() -> bytes:
            async with client.stream("POST", server.base_url + "/v1/messages",
                                     json={**BODY, "stream": True}) as response:
                assert response.status_code == 200, await response.aread()
                return await response.aread()

        for _ in range(ROUNDS):  # from the second round on, the proxy reuses connections the upstream drops
            results = await asyncio.gather(*(one() for _ in range(STREAMS)), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert not errors, errors[:3]
            for raw in results:
                check_stream(raw, TEXT)  # type: ignore[arg-type]
    assert resetting.answered == STREAMS * ROUNDS
    assert resetting.resets > 0  # the reuse really failed, and was absorbed


async def test_a_refused_connect_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch, resetting) -> None:
    real, calls = asyncio.open_connection, []

    async def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        if len(calls) <= 2:
            raise ConnectionRefusedError(111, "Connection refused")
        return await real(*args, **kwargs)

    monkeypatch.setattr(transport.asyncio, "open_connection", flaky)
    async with httpx.AsyncClient(transport=Http1Transport(), timeout=30) as client:
        response = await client.post(f"http://127.0.0.1:{resetting.port}/v1/messages", json=BODY)
    assert response.status_code == 200 and len(calls) == 3
    check_stream(response.content, TEXT)


async def test_connect_retries_end_with_the_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    async def refused(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(transport.asyncio, "open_connection", refused)
    async with httpx.AsyncClient(transport=Http1Transport(), timeout=30) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("http://127.0.0.1:9/v1/messages", json=BODY)
    assert len(calls) == transport.RETRIES + 1  # bounded


async def test_a_fresh_connection_reset_after_the_request_is_not_sent_twice() -> None:
    upstream = ResettingUpstream(reset_fresh=True)
    thread = threading.Thread(target=upstream.run, daemon=True)
    thread.start()
    assert upstream.ready.wait(10)
    try:
        async with httpx.AsyncClient(transport=Http1Transport(), timeout=30) as client:
            with pytest.raises(httpx.TransportError):
                await client.post(f"http://127.0.0.1:{upstream.port}/v1/messages", json=BODY)
        await asyncio.sleep(0.2)
        assert upstream.requests == 1  # the upstream may have acted on it: never repeated
    finally:
        upstream.loop.call_soon_threadsafe(upstream.loop.stop)
        thread.join(5)


async def test_connections_are_reused_and_bounded(resetting) -> None:
    del resetting
    answers = [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked"
               b"\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n"]
    served: list[asyncio.StreamWriter] = []
    for answer in answers:
        served.clear()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes = answer) -> None:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                served.append(writer)
                writer.write(answer)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = Http1Transport(max_idle=4)
        async with httpx.AsyncClient(transport=pool, timeout=30) as client:
            for _ in range(5):  # sequential: one connection serves them all
                assert json.loads((await client.post(f"http://127.0.0.1:{port}/", json=BODY)).content) == {}
            assert pool.opened == 1
            await asyncio.gather(*(client.post(f"http://127.0.0.1:{port}/", json=BODY) for _ in range(10)))
            assert pool.idle <= 4  # at most max_idle kept afterwards
        server.close()
        assert len(served) == 15


async def _refused(handle, match: str) -> None:  # type: ignore[no-untyped-def]
    """One GET through the transport to a raw upstream ``handle``: a protocol error, within seconds."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with httpx.AsyncClient(transport=Http1Transport(), timeout=20) as client:
        with pytest.raises(httpx.RemoteProtocolError, match=match):
            await asyncio.wait_for(client.get(f"http://127.0.0.1:{port}/"), 10)
    server.close()


@pytest.mark.parametrize("size_line", [b"-5", b"zz", b""])
async def test_a_malformed_chunk_size_fails_at_once(size_line: bytes) -> None:
    """A signed size ("-5", which int() takes) once read to the end of a connection the upstream keeps
    open: the request hung until the read timeout instead of failing."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + size_line + b"\r\nabcde\r\n")
        await asyncio.sleep(30)  # keeps the connection open

    await _refused(handle, "malformed chunk size")


async def test_an_endless_run_of_informational_answers_is_refused() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for _ in range(10_000):  # bounded here too; the transport gives up long before
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        writer.close()

    await _refused(handle, "informational")
