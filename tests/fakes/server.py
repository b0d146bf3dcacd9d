"""Run any ASGI app (a fake upstream) on 127.0.0.1 in a background thread, for real-HTTP tests."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from hypercorn.asyncio import serve
from hypercorn.config import Config


@contextmanager
def run_asgi(app, *, host: str = "127.0.0.1") -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Yield the base URL while ``app`` serves; stop and join on exit (bounded: 5 s)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(512)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.errorlog = logging.getLogger("tests.fake_server")
    config.accesslog = None
    config.graceful_timeout = 0.5
    ready = threading.Event()
    state: dict = {}

    def target() -> None:
        async def main() -> None:
            state["loop"] = asyncio.get_running_loop()
            state["stop"] = asyncio.Event()
            ready.set()
            await serve(app, config, shutdown_trigger=state["stop"].wait)

        asyncio.run(main())

    thread = threading.Thread(target=target, name="fake-upstream", daemon=True)
    thread.start()
    assert ready.wait(5), "fake server did not start"
    try:
        yield f"http://{host}:{port}"
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(5)
