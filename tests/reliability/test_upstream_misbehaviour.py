"""An upstream that answers badly: every case is a typed error (or a faithful relay) and the proxy keeps serving."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.reliability.conftest import (
    BODY,
    auth,
    headers_then_hang,
    message_json,
    reply_json,
    sse,
    stream,
    stream_events,
    wait_until,
)

HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"


def post(server, body=BODY):  # type: ignore[no-untyped-def]
    return httpx.post(server.base_url + "/v1/messages", json=body, headers=auth(server), timeout=30)


def still_serving(server, hostile) -> None:  # type: ignore[no-untyped-def]
    hostile.script = []
    hostile.default = message_json("alive")
    assert httpx.get(server.base_url + "/health").status_code == 200
    response = post(server)
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "alive"


@pytest.mark.parametrize(
    ("behaviour", "status", "error_type", "fragment"),
    [
        (reply_json(200, b"{this is not json"), 502, "api_error", "non-JSON"),
        (reply_json(200, b"[1, 2, 3]"), 502, "api_error", "JSON list"),
        (reply_json(200, b""), 502, "api_error", "non-JSON"),
        (reply_json(200, HTML, content_type="text/html"), 502, "api_error", "non-JSON"),
        (reply_json(502, HTML, content_type="text/html"), 500, "api_error", "HTML error page"),
        (reply_json(503, HTML, content_type="text/html"), 529, "overloaded_error", "HTML error page"),
        (reply_json(500, b"\xff\xfe garbage \x00"), 500, "api_error", "garbage"),
        (reply_json(400, b'{"error": {"message": "bad thing"}}'), 400, "invalid_request_error", "bad thing"),
        (reply_json(418, b"teapot"), 400, "invalid_request_error", "teapot"),
        (reply_json(504, b""), 504, "timeout_error", "HTTP 504"),
    ],
    ids=["garbage-json", "json-list", "empty-200", "html-200", "html-502", "html-503", "binary-500",
         "openai-shaped-400", "418", "empty-504"],
)
def test_bad_non_stream_answers_are_typed(hostile, start_hostile_proxy, behaviour, status, error_type,
                                          fragment) -> None:
    server = start_hostile_proxy()
    hostile.default = behaviour
    response = post(server)
    assert response.status_code == status, response.text
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == error_type
    assert fragment in response.json()["error"]["message"]
    still_serving(server, hostile)


@pytest.mark.parametrize(
    "chunks",
    [
        [b"event: message_start\ndata: {truncated"],
        [b"this is not sse at all\n\n"],
        [HTML],
        [stream_events()[0], b"event: content_block_delta\ndata: {\"type\": \"content_block_del"],
    ],
    ids=["cut-mid-json", "not-sse", "html-as-sse", "cut-mid-frame"],
)
def test_truncated_or_garbage_stream_is_typed_error(hostile, start_hostile_proxy, chunks) -> None:
    server = start_hostile_proxy()
    hostile.default = stream(chunks)
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(**BODY) as s:
            s.get_final_message()
    assert "ended the stream before message_stop" in str(info.value)
    still_serving(server, hostile)


def test_unknown_sse_events_pass_through(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy()
    events = stream_events("new events")
    novel = sse("future_event", {"type": "future_event", "payload": {"x": 1}})
    comment = b": keepalive comment\n\n"
    hostile.default = stream([events[0], novel, comment, *events[1:]])
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers=auth(server), timeout=30) as response:
        raw = b"".join(response.iter_raw())
    assert novel in raw and comment in raw, "unknown events are relayed untouched"
    hostile.default = stream([events[0], novel, *events[1:]])
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with client.messages.stream(**BODY) as s:
        assert s.get_final_message().content[0].text == "new events"


def test_in_band_error_mid_stream_is_relayed_typed(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy()
    events = stream_events("a b c")
    overloaded = sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    hostile.default = stream([*events[:4], overloaded], gaps={4: 0.2})  # after bytes reached the client
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(**BODY) as s:
            s.get_final_message()
    assert "overloaded_error" in str(info.value.body)
    wait_until(lambda: len(flows) == 1, 5)
    assert (flows[0].state, flows[0].error_type, flows[0].error) == ("failed", "overloaded_error", "Overloaded")
    assert len(hostile.requests) == 1, "no retry once the stream has begun"
    still_serving(server, hostile)


def test_body_that_never_ends_hits_the_stall_timeout(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy(main="stall_timeout = 0.5\ntimeout = 0.5")
    hostile.script = [stream(stream_events()[:3], hang=True)]
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers=auth(server), timeout=30) as response:
        raw = b"".join(response.iter_raw())
    assert b'"type":"timeout_error"' in raw
    hostile.script = [headers_then_hang(), headers_then_hang()]
    response = post(server)
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"
    still_serving(server, hostile)
