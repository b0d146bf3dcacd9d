"""Anthropic passthrough through the real proxy, judged by the official SDK's strict stream parser."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from ccm_tui.events import EventBus, FlowEvent
from tests.conftest import CANARY_KEY, anthropic_config
from tests.fakes.anthropic_server import Reply, sse


def client(proxy) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0)


def test_non_stream_passthrough_routes_model_and_forwards_headers(proxy, fake_anthropic) -> None:
    message = client(proxy).messages.create(
        model="claude-opus-4-8", max_tokens=100, messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )
    assert message.content[0].text == "Hello from the fake upstream."
    assert message.model == "claude-opus-4-8", "the client sees the model it asked for"
    sent = fake_anthropic.requests[-1]
    assert sent["body"]["model"] == "claude-sonnet-4-5", "the routed model goes upstream"
    assert sent["headers"]["x-api-key"] == CANARY_KEY
    assert sent["headers"]["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert "authorization" not in {k.lower() for k in sent["headers"]}, "the proxy token never goes upstream"


def test_stream_passthrough_matches_non_stream(proxy, fake_anthropic) -> None:
    fake_anthropic.default = Reply(text="one two three four", tool_use={"id": "toolu_1", "name": "Bash",
                                                                          "input": {"command": "ls -la"}})
    c = client(proxy)
    kwargs = dict(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    with c.messages.stream(**kwargs) as stream:
        texts = list(stream.text_stream)
        streamed = stream.get_final_message()
    plain = c.messages.create(**kwargs)
    assert "".join(texts) == "one two three four"
    assert streamed.model_dump(exclude={"id"}) == plain.model_dump(exclude={"id"})
    assert streamed.content[1].input == {"command": "ls -la"}
    assert streamed.usage.input_tokens == 12 and streamed.usage.output_tokens == 7


def test_stream_bytes_relayed_unchanged_when_model_matches(proxy, fake_anthropic) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    expected = b"".join(fake_anthropic.events(body, fake_anthropic.default))
    with httpx.stream("POST", proxy.base_url + "/v1/messages?beta=true", json=body,
                      headers={"authorization": f"Bearer {proxy.token.reveal()}"}) as response:
        assert response.status_code == 200
        assert response.headers["x-ccm-route"] == "anthropic,claude-sonnet-4-5"
        got = b"".join(response.iter_raw())
    assert got == expected
    assert fake_anthropic.requests[-1]["path"].endswith("?beta=true")


def test_flow_record_and_events(fake_anthropic, start_proxy) -> None:
    bus = EventBus()
    seen: list[tuple[FlowEvent, int]] = []
    bus.subscribe(lambda event, flow: seen.append((event, flow.id)))
    server = start_proxy(anthropic_config(fake_anthropic.base_url), bus)
    flows = []
    bus.subscribe(lambda event, flow: flows.append(flow) if event == FlowEvent.FINISHED else None)
    with client(server).messages.stream(model="claude-sonnet-4-5", max_tokens=10,
                                        messages=[{"role": "user", "content": "hi"}]) as stream:
        stream.get_final_message()
    assert [e for e, _ in seen][:3] == [FlowEvent.CREATED, FlowEvent.ROUTED, FlowEvent.FIRST_BYTE]
    assert seen[-1][0] == FlowEvent.FINISHED
    flow = flows[0]
    assert flow.decision is not None and flow.decision.route == "default"
    assert flow.usage.input_tokens == 12 and flow.usage.output_tokens == 7
    assert flow.stop_reason == "end_turn" and flow.status == 200
    assert flow.first_byte_ms is not None and flow.duration_ms >= flow.first_byte_ms
    assert flow.upstream_body["model"] == "claude-sonnet-4-5"
    assert CANARY_KEY not in repr(flow.summary()) + repr(flow.request_headers) + repr(flow.upstream_headers)


def test_truncated_upstream_stream_becomes_error_event(proxy, fake_anthropic) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    events = fake_anthropic.events(body, Reply())
    fake_anthropic.default = Reply(raw_stream=events[:4])  # cut before message_stop
    with pytest.raises(anthropic.APIStatusError) as info:
        with client(proxy).messages.stream(**body) as stream:
            stream.get_final_message()
    assert "before message_stop" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (429, "rate_limit_error"),
     (404, "not_found_error"), (529, "overloaded_error")],
)
def test_upstream_errors_keep_anthropic_shape(proxy, fake_anthropic, status, error_type) -> None:
    fake_anthropic.script = [Reply(status=status, error_body={"type": "error", "error": {
        "type": error_type, "message": f"upstream said {status}"}}, headers={"retry-after": "0"})] * 3
    response = httpx.post(proxy.base_url + "/v1/messages", headers={"x-api-key": proxy.token.reveal()},
                          json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == status
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == error_type
    assert f"upstream said {status}" in response.json()["error"]["message"]


def test_upstream_unreachable_is_502_naming_provider(start_proxy) -> None:
    server = start_proxy(anthropic_config("http://127.0.0.1:9"))
    response = httpx.post(server.base_url + "/v1/messages", headers={"x-api-key": server.token.reveal()},
                          json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert "'anthropic'" in response.json()["error"]["message"]


def test_stream_upstream_midstream_garbage_is_typed_error(proxy, fake_anthropic) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    events = fake_anthropic.events(body, Reply())
    fake_anthropic.default = Reply(raw_stream=[*events[:3], sse("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})])
    with pytest.raises(anthropic.APIStatusError) as info:
        with client(proxy).messages.stream(**body) as stream:
            stream.get_final_message()
    assert "Overloaded" in str(info.value)


def test_upstream_frame_that_never_ends_is_a_typed_error(proxy, fake_anthropic) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    events = fake_anthropic.events(body, Reply())
    endless = [b"event: content_block_delta\ndata: " + b"x" * (1 << 20)] * 9  # 9 MiB, never a frame end
    fake_anthropic.default = Reply(raw_stream=[*events[:3], *endless])
    with pytest.raises(anthropic.APIStatusError) as info:
        with client(proxy).messages.stream(**body) as stream:
            stream.get_final_message()
    assert "malformed event stream" in str(info.value)


def test_an_upstream_cookie_never_rides_along_on_later_requests(proxy, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    """The proxy relays for every client and session: what one answer sets is not sent with the next."""
    fake_anthropic.script = [Reply(headers={"set-cookie": "session=from-upstream; Path=/"})]
    for _ in range(2):
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert len(fake_anthropic.requests) == 2
    assert "cookie" not in fake_anthropic.requests[1]["headers"]
