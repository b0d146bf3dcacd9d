"""Each provider's upstream connections: bounded, admitted at a gate, freed however a response ends;
one saturated provider never blocks a request to another."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import httpx
import pytest

from ccm_tui.flow import Flow
from ccm_tui.providers import pool
from ccm_tui.providers.pool import UpstreamPool
from ccm_tui.proxy.server import ProxyServer
from tests.reliability.conftest import (
    BODY,
    Hostile,
    Send,
    auth,
    error,
    message_json,
    stream,
    tcp_connections,
    two_provider_config,
)

WAIT = 30.0  # generous: correctness on a loaded machine, not speed


async def until(predicate, timeout: float = WAIT) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def request(p: UpstreamPool, hostile: Hostile) -> httpx.Request:
    return p.build_request("POST", hostile.base_url + "/v1/messages", json={**BODY, "stream": True})


async def test_requests_past_the_limit_wait_at_the_gate_not_upstream(hostile: Hostile) -> None:
    hostile.default = stream(hang=True)
    p = UpstreamPool(httpx.Timeout(30.0), pool_size=2, max_streams=4)
    try:
        sends = [asyncio.ensure_future(p.send(request(p, hostile))) for _ in range(6)]
        await until(lambda: sum(s.done() for s in sends) == 4)
        await asyncio.sleep(0.3)  # the two others stay at the gate: nothing more reaches the upstream
        assert hostile.open_streams == 4 and len(hostile.requests) == 4 and hostile.peak_streams == 4
        assert p.in_flight == 4 and p.transport.opened == 4
        first = next(s for s in sends if s.done()).result()
        await first.aclose()  # a slot frees: one waiting request goes in
        await until(lambda: sum(s.done() for s in sends) == 5)
        assert len(hostile.requests) == 5 and p.in_flight == 4
        for s in sends:
            if not s.done():
                s.cancel()  # a client gone while waiting at the gate
        await asyncio.gather(*sends, return_exceptions=True)
        for s in sends:
            if not s.cancelled():
                await s.result().aclose()
        assert p.in_flight == 0
        await until(lambda: hostile.open_streams == 0)
    finally:
        await p.aclose()


async def test_slots_are_freed_after_errors_and_cancellation(hostile: Hostile) -> None:
    p = UpstreamPool(httpx.Timeout(30.0), pool_size=1, max_streams=1)
    try:
        hostile.script = [error(500)] * 3
        for _ in range(3):  # an error answer, read and closed, gives its slot back
            response = await p.send(request(p, hostile))
            assert response.status_code == 500
            await response.aread()
            await response.aclose()
        assert p.in_flight == 0
        hostile.default = stream(hang=True)
        held = await p.send(request(p, hostile))
        waiting = asyncio.ensure_future(p.send(request(p, hostile)))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await held.aclose()
        assert p.in_flight == 0
        hostile.default = stream()
        response = await p.send(request(p, hostile))  # the slot is usable again
        assert b"message_stop" in await response.aread()
        await response.aclose()
        assert p.in_flight == 0
    finally:
        await p.aclose()


async def test_waiting_for_a_slot_is_bounded_by_the_pool_timeout(hostile: Hostile) -> None:
    hostile.default = stream(hang=True)
    p = UpstreamPool(httpx.Timeout(30.0, pool=0.2), pool_size=1, max_streams=1)
    try:
        held = await p.send(request(p, hostile))
        with pytest.raises(httpx.PoolTimeout):
            await p.send(request(p, hostile))
        await held.aclose()
        assert p.in_flight == 0
    finally:
        await p.aclose()


async def test_a_saturated_provider_does_not_block_another(hostile: Hostile, start_hostile_proxy,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Provider ``main`` holds more streams open than it may have upstream; ``spare`` still answers."""
    monkeypatch.setattr(pool, "POOL_SIZE", 2)
    monkeypatch.setattr(pool, "MAX_STREAMS", 4)
    held, answer, streamed = stream(hang=True), message_json("one two three"), stream()

    async def by_provider(body: dict[str, Any], send: Send) -> None:
        if body.get("model") == "m-main":
            await held(body, send)
        else:
            await (streamed if body.get("stream") else answer)(body, send)

    hostile.default = by_provider
    server = start_hostile_proxy()
    async with httpx.AsyncClient(timeout=WAIT, headers=auth(server)) as client:
        async def hold() -> None:
            async with client.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True}):
                await asyncio.sleep(3600)

        holders = [asyncio.ensure_future(hold()) for _ in range(6)]
        try:
            await until(lambda: hostile.open_streams == 4)
            await asyncio.sleep(0.3)
            assert hostile.open_streams == 4 and hostile.peak_streams == 4  # main: 4 upstream, 2 at its gate
            spare = anthropic.AsyncAnthropic(api_key=server.token.reveal(), base_url=server.base_url,
                                             max_retries=0, timeout=WAIT)
            message = await spare.messages.create(**{**BODY, "model": "spare,m-spare"})
            assert message.content[0].text == "one two three"
            async with spare.messages.stream(**{**BODY, "model": "spare,m-spare"}) as events:
                assert await events.get_final_text() == "one two three"
        finally:
            for h in holders:
                h.cancel()
            await asyncio.gather(*holders, return_exceptions=True)
    await until(lambda: hostile.open_streams == 0)  # main's streams, gate waiters included, all let go


def test_the_proxy_lifts_a_low_open_file_limit(fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    """1000 streams hold 2000 sockets: a soft limit of 1024 (a common default) is raised to the hard limit at start."""
    resource = pytest.importorskip("resource")
    from ccm_tui.proxy.server import ProxyServer
    from tests.conftest import anthropic_config

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip(f"hard open-file limit {hard}: nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        server = ProxyServer(anthropic_config(fake_anthropic.base_url), host="127.0.0.1", port=0)
        server._sock.close()
        raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert raised == hard if hard != resource.RLIM_INFINITY else raised >= 8192
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_serve_opens_a_connection_to_each_provider_at_start(hostile: Hostile) -> None:
    """The first request finds its connection open (and the client built): it costs what later ones do."""
    hostile.default = message_json("fine")
    server = ProxyServer(two_provider_config(hostile.base_url), host="127.0.0.1", port=0, preconnect=True)
    server.start_in_thread()
    try:
        port = int(hostile.base_url.rsplit(":", 1)[1])
        deadline = time.monotonic() + WAIT
        while tcp_connections(port) < 2 and time.monotonic() < deadline:  # main and spare, before any request
            time.sleep(0.01)
        assert tcp_connections(port) >= 2 and hostile.requests == []
        answer = httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server), timeout=WAIT)
        assert answer.status_code == 200
        holder = Flow("GET", "/test", {})
        main = server.state.provider("main", server.config, holder)
        server.state.release(holder)
        assert main.upstream.transport.opened == 1  # the request used the connection opened at start
    finally:
        server.stop()
