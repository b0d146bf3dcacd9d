"""A hostile upstream (raw ASGI, so it can misbehave in ways a framework would not allow) and helpers.

Each request to the fake is answered by the next scripted behaviour. The fake counts the
responses it is still writing (``open_streams``) and notices client disconnects; the test side
can also count established TCP connections to it (``tcp_connections``) and tasks on the proxy's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from ccm_tui.config import Config, parse_config
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Flow
from ccm_tui.proxy.server import ProxyServer
from tests.conftest import CANARY_KEY
from tests.fakes.anthropic_server import FakeAnthropic, Reply, sse
from tests.fakes.server import run_asgi

Send = Callable[[dict[str, Any]], Awaitable[None]]
Behaviour = Callable[[dict[str, Any], Send], Awaitable[None]]
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def stream_events(text: str = "one two three", usage: dict[str, int] | None = None) -> list[bytes]:
    """A complete, valid Anthropic SSE stream (the shared fake's rendering)."""
    return FakeAnthropic().events({"model": "claude-sonnet-4-5"}, Reply(text=text, usage=usage or
                                                                      {"input_tokens": 12, "output_tokens": 7}))


def reply_json(status: int, payload: bytes | dict[str, Any], headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> Behaviour:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    async def run(body: dict[str, Any], send: Send) -> None:
        hdrs = [(b"content-type", content_type.encode())]
        hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": raw})

    return run


def error(status: int, error_type: str = "api_error", message: str = "boom",
          headers: dict[str, str] | None = None) -> Behaviour:
    return reply_json(status, {"type": "error", "error": {"type": error_type, "message": message}}, headers)


def message_json(text: str = "fine", usage: dict[str, int] | None = None) -> Behaviour:
    async def run(body: dict[str, Any], send: Send) -> None:
        await reply_json(200, {"id": "msg_h", "type": "message", "role": "assistant", "model": body.get("model"),
                               "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                               "stop_sequence": None,
                               "usage": usage or {"input_tokens": 12, "output_tokens": 7}})(body, send)

    return run


def stream(chunks: list[bytes] | None = None, *, delay: float = 0.0, hang: bool = False,
           gaps: dict[int, float] | None = None) -> Behaviour:
    """200 text/event-stream: ``chunks`` (default: a valid stream), ``gaps`` = extra sleep before chunk i;
    ``hang`` keeps the body open forever afterwards (until the client goes away)."""

    async def run(body: dict[str, Any], send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"request-id", b"req_hostile")]})
        for i, chunk in enumerate(stream_events() if chunks is None else chunks):
            pause = delay + (gaps or {}).get(i, 0.0)
            if pause:
                await asyncio.sleep(pause)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if hang:
            await asyncio.sleep(3600)
        await send({"type": "http.response.body", "body": b""})

    return run


def headers_then_hang(content_type: str = "application/json") -> Behaviour:
    async def run(body: dict[str, Any], send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type.encode())]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await asyncio.sleep(3600)

    return run


class Hostile:
    def __init__(self) -> None:
        self.script: list[Behaviour] = []
        self.default: Behaviour = stream()
        self.requests: list[dict[str, Any]] = []
        self.open_streams = 0
        self.peak_streams = 0
        self.disconnects = 0
        self.base_url = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append({"path": scope["path"], "headers": headers, "body": body, "t": time.monotonic()})
        behaviour = self.script.pop(0) if self.script else self.default
        self.open_streams += 1
        self.peak_streams = max(self.peak_streams, self.open_streams)
        task = asyncio.ensure_future(behaviour(body, send))
        watcher = asyncio.ensure_future(self._disconnected(receive))
        try:
            done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher in done:
                self.disconnects += 1
        finally:
            for t in (task, watcher):
                t.cancel()
            await asyncio.wait({task, watcher})
            self.open_streams -= 1

    @staticmethod
    async def _disconnected(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    @property
    def models(self) -> list[str]:
        return [r["body"].get("model") for r in self.requests]


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    fake = Hostile()
    with run_asgi(fake) as url:
        fake.base_url = url
        yield fake


def two_provider_config(base_url: str, *, main: str = "", spare: str = "", router: str = "",
                        top: str = "", key: str = CANARY_KEY, kind: str = "anthropic") -> Config:
    """``main`` (default route, of type ``kind``) and ``spare`` (fallback, anthropic), both at ``base_url``."""
    text = f"""{top}
[providers.main]
type = "{kind}"
base_url = "{base_url}"
api_key = "$KEY"
models = ["m-main"]
{main}

[providers.spare]
type = "anthropic"
base_url = "{base_url}"
api_key = "$KEY"
models = ["m-spare"]
{spare}

[router]
default = "main,m-main"
{router}
"""
    return parse_config(text, env={"KEY": key})


@pytest.fixture
def start_hostile_proxy(hostile: Hostile, start_proxy, flows) -> Callable[..., ProxyServer]:  # type: ignore[no-untyped-def]
    """Start a proxy in front of ``hostile``; its finished/failed flows land in the ``flows`` fixture.
    Keyword arguments go to :func:`two_provider_config`."""

    def start(keep_flows: bool = True, **kwargs: str) -> ProxyServer:
        bus = EventBus()
        if keep_flows:
            bus.subscribe(lambda event, flow: flows.append(flow)
                          if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
        return start_proxy(two_provider_config(hostile.base_url, **kwargs), bus)

    return start


@pytest.fixture
def flows() -> list[Flow]:
    return []


def auth(server: ProxyServer) -> dict[str, str]:
    return {"x-api-key": server.token.reveal()}


def proxy_task_names(server: ProxyServer) -> list[str]:
    """What runs on the proxy's loop right now (coroutine names; this probe excluded)."""

    async def names() -> list[str]:
        me = asyncio.current_task()
        return sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks() if t is not me)  # type: ignore[union-attr]

    assert server._loop is not None
    return asyncio.run_coroutine_threadsafe(names(), server._loop).result(5)


def proxy_tasks(server: ProxyServer) -> int:
    return len(proxy_task_names(server))


def tcp_connections(port: int) -> int:
    """Established TCP connections from anyone to 127.0.0.1:``port`` (the client side of each)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                remote, state = fields[2], fields[3]
                if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def all_at_once(action: Callable[[], object], threads: int, timeout: float = 60.0) -> list[BaseException]:
    """Run ``action`` on ``threads`` threads released together by a barrier; what they raised."""
    start, errors = threading.Barrier(threads), []

    def run() -> None:
        try:
            start.wait(timeout=10)
            action()
        except BaseException as exc:  # noqa: BLE001 - collected for the caller to assert on
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
    return errors


def wait_until(predicate: Callable[[], bool], timeout: float) -> float:
    """Poll (bounded); returns the seconds it took, or raises AssertionError."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


__all__ = ["BODY", "CANARY_KEY", "Hostile", "error", "headers_then_hang", "message_json", "reply_json", "sse",
           "stream", "stream_events"]
