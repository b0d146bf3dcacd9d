"""A bug or a vanished client still ends the flow (no row stays open) and, mid-stream, the one error shape."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anthropic
import httpx
import pytest

from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Flow
from ccm_tui.providers.anthropic import AnthropicProvider
from tests.conftest import anthropic_config
from tests.fakes.anthropic_server import Reply

BODY = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def ended(fake_anthropic, start_proxy):  # type: ignore[no-untyped-def]
    """(server, flows that reached FINISHED or FAILED)."""
    bus = EventBus()
    flows: list[Flow] = []
    bus.subscribe(lambda event, flow: flows.append(flow) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    return start_proxy(anthropic_config(fake_anthropic.base_url), bus), flows


def wait_for(flows: list[Flow], n: int = 1) -> None:
    deadline = time.monotonic() + 5
    while len(flows) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(flows) >= n, "the flow never ended"


def test_a_bug_before_the_answer_is_500_and_fails_the_flow(ended, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server, flows = ended

    async def broken(self, flow, body, headers):  # type: ignore[no-untyped-def]
        raise KeyError("translation bug")

    monkeypatch.setattr(AnthropicProvider, "messages", broken)
    response = httpx.post(server.base_url + "/v1/messages", json=BODY, headers={"x-api-key": server.token.reveal()})
    assert response.status_code == 500
    assert response.json()["error"] == {"type": "api_error", "message": "internal proxy error: KeyError"}
    wait_for(flows)
    assert (flows[0].state, flows[0].status, flows[0].error) == ("failed", 500, "internal proxy error: KeyError")


def test_a_bug_mid_stream_is_an_error_event(ended, fake_anthropic, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server, flows = ended
    first = fake_anthropic.events(BODY, Reply())[0]

    async def relay(self, flow, response, rewrite) -> AsyncIterator[bytes]:  # type: ignore[no-untyped-def]
        await response.aclose()
        yield first
        raise RuntimeError("translator bug")

    monkeypatch.setattr(AnthropicProvider, "_relay", relay)
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(**BODY) as stream:
            stream.get_final_message()
    assert info.value.body["error"] == {"type": "api_error", "message": "internal proxy error: RuntimeError"}
    wait_for(flows)
    assert (flows[0].state, flows[0].error) == ("failed", "internal proxy error: RuntimeError")


def test_client_leaving_mid_stream_fails_the_flow(ended, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    server, flows = ended
    fake_anthropic.default = Reply(text=" ".join(["word"] * 50), chunk_delay=0.05)
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers={"x-api-key": server.token.reveal()}) as response:
        next(response.iter_raw())
    wait_for(flows)
    assert (flows[0].state, flows[0].error) == ("failed", "client disconnected")
