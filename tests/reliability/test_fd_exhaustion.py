"""A flood of idle connections that exhausts file descriptors: `serve` stays quiet in its log, closes
connections that never send a request, and serves again as soon as the flood lets go.

`serve` runs in a subprocess whose RLIMIT_NOFILE is lowered at exec, so this test process is not starved.
"""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ccm_tui.proxy.connections import raise_fd_limit
from ccm_tui.proxy.server import FIRST_REQUEST_TIMEOUT_S
from tests.conftest import anthropic_config

LIMIT = 256  # the child's fd limit: the flood only has to be bigger than this
FLOOD = 320
HOLD_S = 1.5
LINE = re.compile(r"ANTHROPIC_BASE_URL=(http://127\.0\.0\.1:\d+)")
CONFIG = """
[providers.anthropic]
type = "anthropic"
base_url = "http://127.0.0.1:9"
api_key = "k"
models = ["claude-sonnet-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
"""

LOWER_LIMIT_THEN_SERVE = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "os.execv(sys.executable, [sys.executable, '-m', 'ccm_tui', 'serve', *sys.argv[3:]])"
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")


@pytest.fixture(autouse=True)
def enough_fds_here() -> None:
    if raise_fd_limit() < FLOOD + 200:
        pytest.skip("this process cannot hold the flood's client sockets")


@contextmanager
def serve(tmp_path: Path, soft: int, hard: int) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    log = tmp_path / "ccm.log"

    # The limit is lowered in the child before it execs serve (preexec_fn is unsafe with threads about).
    process = subprocess.Popen([sys.executable, "-c", LOWER_LIMIT_THEN_SERVE, str(soft), str(hard), "--config", str(config),
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "CCM_LOG_FILE": str(log)})
    try:
        match = LINE.search(process.stdout.readline())  # type: ignore[union-attr]
        assert match, "serve did not start"
        yield match.group(1), process, log
    finally:
        process.kill()
        process.wait(10)


@contextmanager
def flood(base_url: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that never send a byte; all closed on exit."""
    host, port = base_url.removeprefix("http://").split(":")
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect((host, int(port)))
            except BlockingIOError:
                pass
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def seconds_until(check: Callable[[], bool], limit: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def exhaustion_lines(log: Path) -> int:
    return sum("file descriptors" in line or "accept" in line for line in log.read_text(errors="replace").splitlines())


def test_exhausted_fds_log_little_and_serve_again_soon_after_the_flood(tmp_path: Path) -> None:
    with serve(tmp_path, LIMIT, LIMIT) as (base_url, process, log):
        assert healthy(base_url)
        with flood(base_url, FLOOD):
            time.sleep(HOLD_S)
            assert process.poll() is None
            held_log_bytes = log.stat().st_size
        # Before the idle timeout could free them: the hang-ups themselves do (measured: ~0.1 s).
        recovered = seconds_until(lambda: healthy(base_url), FIRST_REQUEST_TIMEOUT_S - HOLD_S - 0.5)
        assert recovered is not None, "serves again soon after the flood closes"
        print(f"served again {recovered:.2f} s after the flood closed; log {log.stat().st_size} bytes")
        assert held_log_bytes < 32_000, "accept failures are logged at most once a second, without tracebacks"
        assert exhaustion_lines(log) <= 8, "at most one line a second"
        assert "Traceback" not in log.read_text(errors="replace")


def test_idle_connections_are_closed_so_a_held_flood_lets_requests_through(tmp_path: Path) -> None:
    with serve(tmp_path, LIMIT, LIMIT) as (base_url, _, log), flood(base_url, FLOOD):
        waited = seconds_until(lambda: healthy(base_url), 30.0)
        assert waited is not None, "connections that never sent a request are closed, freeing their fds"
        print(f"answered {waited:.2f} s into a held flood")


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="reads another process's limit (Linux)")
def test_serve_raises_its_soft_fd_limit_to_the_hard_limit(tmp_path: Path) -> None:
    with serve(tmp_path, LIMIT, 4 * LIMIT) as (base_url, process, _):
        assert resource.prlimit(process.pid, resource.RLIMIT_NOFILE) == (4 * LIMIT, 4 * LIMIT)
        with flood(base_url, FLOOD):
            assert healthy(base_url), "a flood above the old soft limit no longer starves it"


def test_a_connection_that_served_a_request_is_kept_alive_past_the_first_request_timeout(start_proxy) -> None:
    """Only connections that never sent a request are closed early: a client reusing a kept-alive
    connection must not race its close (httpx keeps one 5 s, the first-request limit)."""
    server = start_proxy(anthropic_config("http://127.0.0.1:9"))
    host, port = server.base_url.removeprefix("http://").split(":")
    request = f"GET /health HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(request)
            assert read_response(sock).startswith(b"HTTP/1.1 200"), "answered on the same connection"
            time.sleep(FIRST_REQUEST_TIMEOUT_S + 1)
        idle = socket.create_connection((host, int(port)), timeout=FIRST_REQUEST_TIMEOUT_S + 20)
        with idle:
            assert idle.recv(1) == b"", "a connection that never sent a request is closed"


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response with a content-length (it may come in several pieces)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(4096)
        assert piece, f"closed after {data!r}"
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        piece = sock.recv(4096)
        assert piece, "closed mid-body"
        body += piece
    return head + b"\r\n\r\n" + body
