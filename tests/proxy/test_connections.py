"""Accept failures from descriptor exhaustion: one log line a second at most; anything else is not ours.
Accepted connections send at once (no Nagle delay)."""

from __future__ import annotations

import errno
import logging
import os
import socket
from typing import Any

import pytest

from ccm_tui.proxy.connections import AcceptFailureLog
from tests.conftest import anthropic_config


class Loop:
    def __init__(self) -> None:
        self.defaults: list[dict[str, Any]] = []

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.defaults.append(context)


def test_a_storm_of_accept_failures_is_one_line_without_traceback(caplog) -> None:  # type: ignore[no-untyped-def]
    handler, loop = AcceptFailureLog(), Loop()
    exhausted = OSError(errno.EMFILE, "Too many open files")
    with caplog.at_level(logging.WARNING, logger="ccm_tui.proxy.connections"):
        for _ in range(1000):
            handler(loop, {"message": "socket.accept() out of system resource", "exception": exhausted})
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None
    assert "Too many open files" in caplog.records[0].getMessage()
    assert loop.defaults == []
    other = {"message": "Task exception was never retrieved", "exception": ValueError("x")}
    handler(loop, other)
    assert loop.defaults == [other], "other loop errors keep asyncio's own handling"


def _server_side_sockets(port: int) -> list[socket.socket]:
    """This process's connected sockets on local ``port`` (duplicates: close them)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
                    and sock.getsockname()[1] == port and sock.getpeername()):
                found.append(sock)
                continue
        except OSError:
            pass
        sock.close()
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("loop", ["asyncio", "default"])
def test_accepted_connections_have_nagle_off(loop: str, fake_anthropic, start_proxy,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypercorn writes an answer's head and body separately: with Nagle on, the body waited for
    the client's delayed ACK (~40 ms a request on a kept-alive connection)."""
    if loop == "asyncio":
        monkeypatch.setenv("CCM_LOOP", "asyncio")
    server = start_proxy(anthropic_config(fake_anthropic.base_url))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        assert client.recv(100).startswith(b"HTTP/1.1 200")
        accepted = _server_side_sockets(server.port)
        try:
            assert accepted
            assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in accepted)
        finally:
            for s in accepted:
                s.close()
