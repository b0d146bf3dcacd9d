"""The upstream transport over TLS (every real provider is https): verified, reused, chunked bodies."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import trustme

from ccm_tui.providers.transport import Http1Transport

BODY = b'{"ok": true}'


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def tls_upstream(ca: trustme.CA) -> tuple[asyncio.AbstractServer, int, list[int]]:
    """Answers every request on a connection, keep-alive: JSON with a length, then a chunked one."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                await reader.readexactly(length)
                served += 1
                if served % 2:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                                 + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                                 b"5\r\n{\"ok\"\r\n7\r\n: true}\r\n0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    return server, server.sockets[0].getsockname()[1], connections


async def test_https_requests_are_verified_and_reuse_one_connection(ca: trustme.CA) -> None:
    server, port, connections = await tls_upstream(ca)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    transport = Http1Transport(lambda: client_context)
    async with server, httpx.AsyncClient(transport=transport, timeout=10) as client:
        for _ in range(4):
            response = await client.post(f"https://localhost:{port}/v1/x", json={"a": 1})
            assert response.status_code == 200 and response.json() == {"ok": True}
        assert transport.opened == 1 and len(connections) == 1, "kept alive over TLS"


async def test_an_untrusted_certificate_is_refused(ca: trustme.CA) -> None:
    server, port, _ = await tls_upstream(ca)
    transport = Http1Transport(ssl.create_default_context)  # the system's CAs do not know this one
    async with server, httpx.AsyncClient(transport=transport, timeout=10) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await client.post(f"https://localhost:{port}/v1/x", json={})
