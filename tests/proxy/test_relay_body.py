"""A streamed body the server drops before iterating it (the client left while the headers went out)
still ends its flow, settles the budget reservation and closes the upstream stream."""

from __future__ import annotations

import asyncio
import gc

from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Decision, Flow
from ccm_tui.proxy import budget
from ccm_tui.proxy.pipeline import relay_body
from ccm_tui.proxy.state import ProxyState
from ccm_tui.secrets import Redactor, Secret
from tests.conftest import anthropic_config


class Upstream:
    def __init__(self) -> None:
        self.closed = False

    def __aiter__(self) -> Upstream:
        return self

    async def __anext__(self) -> bytes:
        return b"event: ping\ndata: {}\n\n"

    async def aclose(self) -> None:
        self.closed = True


def test_a_body_dropped_before_it_started_ends_the_flow() -> None:
    config = anthropic_config("http://127.0.0.1:9", '[budget]\nmax_usd = 1.0\n')
    bus = EventBus()
    ended: list[FlowEvent] = []
    bus.subscribe(lambda event, flow: ended.append(event) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    state = ProxyState(config, bus, Secret("token-1234"), Redactor())
    flow = Flow("POST", "/v1/messages", {})
    flow.decision = Decision("default", "anthropic", "claude-sonnet-4-5", "test", estimated_tokens=10)
    upstream = Upstream()

    async def run() -> None:
        budget.admit(state.session.ledger, config, flow, {"max_tokens": 100, "messages": []})
        assert state.session.ledger.reserved
        body = relay_body(state, config, flow, upstream)
        del body  # never iterated
        gc.collect()
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert flow.state == "failed" and flow.error == "client disconnected" and ended == [FlowEvent.FAILED]
    assert not state.session.ledger.reserved, "the reservation is settled"
    assert upstream.closed, "the upstream stream is closed"


def test_a_body_that_ran_is_not_ended_twice() -> None:
    config = anthropic_config("http://127.0.0.1:9")
    bus = EventBus()
    ended: list[FlowEvent] = []
    bus.subscribe(lambda event, flow: ended.append(event) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    state = ProxyState(config, bus, Secret("token-1234"), Redactor())
    flow = Flow("POST", "/v1/messages", {})
    flow.decision = Decision("default", "anthropic", "claude-sonnet-4-5", "test")

    async def run() -> None:
        body = relay_body(state, config, flow, Upstream())
        assert await body.__anext__()
        await body.aclose()  # the client left mid-stream: the relay ends the flow itself
        del body
        gc.collect()

    asyncio.run(run())
    assert ended == [FlowEvent.FAILED]
