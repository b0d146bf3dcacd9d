"""No silent empty answers, whole and honest streams, no reflected keys, hangs and retries bounded."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from ccm_tui.config import ConfigError, parse_config
from tests.fakes import responses_server as responses_fake
from tests.reliability.conftest import (
    BODY,
    CANARY_KEY,
    auth,
    error,
    message_json,
    reply_json,
    sse,
    stream,
    stream_events,
    wait_until,
)

FALLBACK = 'fallback = ["spare,m-spare"]'
STREAM = {**BODY, "stream": True}
KINDS = ["anthropic", "openai", "openai-responses", "gemini", "litellm"]


def provider(kind: str) -> dict[str, str]:
    """start_hostile_proxy arguments for a main provider of ``kind`` (openai-responses: api = "responses")."""
    return {"kind": "openai", "main": 'api = "responses"'} if kind == "openai-responses" else {"kind": kind}


def sdk(server) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)


def raw_stream(server, body=STREAM) -> bytes:  # type: ignore[no-untyped-def]
    with httpx.stream("POST", server.base_url + "/v1/messages", json=body, headers=auth(server),
                      timeout=30) as response:
        assert response.status_code == 200, response.read()
        return b"".join(response.iter_raw())


def answer(kind: str, text: str, *, streamed: bool):  # type: ignore[no-untyped-def]
    """A good answer saying ``text`` in the wire format of ``kind``."""
    if kind in ("anthropic", "litellm"):
        return stream(stream_events(text)) if streamed else message_json(text)
    if kind == "openai-responses":
        output = [responses_fake.message(text)]
        if streamed:
            events = responses_fake.stream_events(output, responses_fake.usage(5, 3), piece=len(text))  # one delta
            return stream([responses_fake.wire(events)])
        return reply_json(200, responses_fake.response(output, responses_fake.usage(5, 3)))
    if kind == "openai":
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]},
                  {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
        whole = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": "stop"}]}
    else:
        chunks = [{"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}]}]
        whole = chunks[0]
    if not streamed:
        return reply_json(200, whole)
    frames = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"] * (kind == "openai")
    return stream(frames)


# -- 6: no silent empty answers ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_redirect_is_a_typed_error_that_falls_back(hostile, start_hostile_proxy, flows, kind, streamed) -> None:
    redirect = reply_json(307, b"{}", headers={"location": f"https://user:pw@elsewhere.example/v1?key={CANARY_KEY}"})
    server = start_hostile_proxy(**provider(kind))
    hostile.script = [redirect, redirect]
    response = httpx.post(server.base_url + "/v1/messages", json={**BODY, "stream": streamed},
                          headers=auth(server), timeout=30)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "api_error"
    assert "HTTP 307 (redirect to 'https://***@elsewhere.example/v1?key=***')" in response.json()["error"]["message"]
    assert CANARY_KEY not in response.text and "user:pw" not in response.text
    assert len(hostile.requests) == 2 and "elsewhere" not in str(hostile.requests), "never followed"
    server2 = start_hostile_proxy(**provider(kind), router=FALLBACK)
    hostile.script = [redirect, message_json("from spare") if not streamed else stream(stream_events("from spare"))]
    if streamed:
        with sdk(server2).messages.stream(**BODY) as s:
            assert "".join(s.text_stream) == "from spare"
    else:
        assert sdk(server2).messages.create(**BODY).content[0].text == "from spare"


@pytest.mark.parametrize("kind", KINDS)
def test_empty_200_is_a_typed_error_that_falls_back(hostile, start_hostile_proxy, kind) -> None:
    server = start_hostile_proxy(**provider(kind))
    hostile.script = [reply_json(200, {}), reply_json(200, {})]
    response = httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server), timeout=30)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "api_error"
    assert "answered 200 without" in response.json()["error"]["message"]
    server2 = start_hostile_proxy(**provider(kind), router=FALLBACK)
    hostile.script = [reply_json(200, {}), message_json("from spare")]
    assert sdk(server2).messages.create(**BODY).content[0].text == "from spare"


def test_empty_but_real_answers_still_pass(hostile, start_hostile_proxy) -> None:
    """An answer with no text is not an empty body: `content: []` and a blocked Gemini prompt are answers."""
    server = start_hostile_proxy()
    hostile.script = [reply_json(200, {"id": "m", "type": "message", "role": "assistant", "model": "m-main",
                                       "content": [], "stop_reason": "end_turn", "stop_sequence": None,
                                       "usage": {"input_tokens": 1, "output_tokens": 0}})]
    assert sdk(server).messages.create(**BODY).content == []
    gemini = start_hostile_proxy(kind="gemini")
    hostile.script = [reply_json(200, {"promptFeedback": {"blockReason": "SAFETY"}})]
    response = httpx.post(gemini.base_url + "/v1/messages", json=BODY, headers=auth(gemini), timeout=30)
    assert response.status_code == 200, response.text


# -- 7: passthrough stream integrity -------------------------------------------------------------------

@pytest.mark.parametrize("first", [b": hello\n\n", sse("ping", {"type": "ping"}), b'data: {"x": 1}\n\n'],
                         ids=["comment", "ping", "nameless"])
def test_one_message_start_whatever_comes_before_it(hostile, start_hostile_proxy, first) -> None:
    server = start_hostile_proxy()  # the client asks for claude-sonnet-4-5, routed to m-main: rewritten
    events = stream_events("after a keepalive")
    hostile.default = stream([first, *events])
    raw = raw_stream(server)
    assert raw.count(b"event: message_start") == 1
    assert raw.count(b'"model":"claude-sonnet-4-5"') == 1 and b"m-main" not in raw
    assert first in raw, "keepalives are relayed (with the event after them)"
    with sdk(server).messages.stream(**BODY) as s:
        message = s.get_final_message()
    assert message.model == "claude-sonnet-4-5" and message.content[0].text == "after a keepalive"


def test_invalid_frame_before_message_start_falls_back(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    hostile.script = [stream([b"event: message_start\ndata: {not json\n\n", *stream_events()[1:]]),
                      stream(stream_events("from spare"))]
    with sdk(server).messages.stream(**BODY) as s:
        assert "".join(s.text_stream) == "from spare"
    assert "malformed message_start event" in (flows[-1].attempts[0].error or "")


def test_invalid_json_mid_stream_is_a_typed_error_event(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy()
    events = stream_events("a b c")
    broken = b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {oops\n\n'
    hostile.default = stream([*events[:4], broken, *events[4:]], gaps={4: 0.2})
    raw = raw_stream(server)
    assert broken not in raw
    assert raw.endswith(b"\n\n") and raw.rsplit(b"\n\n", 2)[-2].startswith(b"event: error\n")
    assert b'"type":"api_error"' in raw and b"malformed content_block_delta event" in raw
    with pytest.raises(anthropic.APIStatusError, match="malformed content_block_delta"):
        with sdk(server).messages.stream(**BODY) as s:
            s.get_final_message()
    assert flows[-1].state == "failed" and flows[-1].error_type == "api_error"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_reflected_key_is_scrubbed_on_every_path(hostile, start_hostile_proxy, flows, kind, streamed) -> None:
    server = start_hostile_proxy(**provider(kind))
    hostile.default = answer(kind, f"your key is {CANARY_KEY}", streamed=streamed)
    if streamed:
        seen = raw_stream(server).decode()
    else:
        response = httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server), timeout=30)
        assert response.status_code == 200, response.text
        seen = response.text
    assert "your" in seen and CANARY_KEY not in seen and "***" in seen
    wait_until(lambda: len(flows) == 1, 5)
    assert CANARY_KEY not in repr(flows[0]) + json.dumps(flows[0].summary(), default=str)


# -- 9: hung upstreams fall back in time ---------------------------------------------------------------

def never_answer():  # type: ignore[no-untyped-def]
    async def run(body: dict[str, Any], send) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(3600)  # accepted, read, and never a status line

    return run


def test_hang_before_headers_falls_back_within_first_byte_timeout(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(main="first_byte_timeout = 1", router=FALLBACK)  # read timeout stays 600 s
    hostile.script = [never_answer(), stream(stream_events("from spare"))]
    t0 = time.monotonic()
    with sdk(server).messages.stream(**BODY) as s:
        assert "".join(s.text_stream) == "from spare"
    assert time.monotonic() - t0 < 10
    attempts = flows[-1].attempts
    assert [(a.provider, a.status) for a in attempts] == [("main", 504), ("spare", 200)]
    assert "first_byte_timeout" in (attempts[0].error or "")


def test_first_byte_timeout_is_a_validated_provider_key() -> None:
    def config(value: str):  # type: ignore[no-untyped-def]
        return parse_config(f'[providers.a]\ntype = "anthropic"\napi_key = "k"\n{value}\n[router]\ndefault = "a,m"\n')

    assert config("").providers["a"].first_byte_timeout == 60.0
    assert config("first_byte_timeout = 5").providers["a"].first_byte_timeout == 5.0
    for bad, problem in (("0", "must be at least 0.001"), ('"soon"', "expected a number")):
        with pytest.raises(ConfigError, match=f"providers.a.first_byte_timeout: {problem}"):
            config(f"first_byte_timeout = {bad}")


# -- 10: retries do not multiply ----------------------------------------------------------------------

def test_an_sdk_client_that_retries_is_not_retried_for(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy()
    hostile.default = error(529, "overloaded_error", "Overloaded")
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=2)
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(**BODY)
    assert len(hostile.requests) == 3, "one upstream call per client try (the client itself tried 3 times)"
    assert all("x-stainless-retry-count" not in r["headers"] for r in hostile.requests), "not forwarded"


# -- 11a: the upstream's error is what the record keeps --------------------------------------------------

def test_upstream_error_is_recorded_when_the_client_leaves_after_it(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy()
    overloaded = sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    hostile.default = stream([*stream_events()[:3], overloaded], hang=True)
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", server.base_url + "/v1/messages", json=STREAM, headers=auth(server)) as response:
            seen = b""
            for chunk in response.iter_raw():
                seen += chunk
                if b"event: error" in seen:
                    break  # the client leaves while the upstream still holds the stream open
    wait_until(lambda: len(flows) == 1, 5)
    assert (flows[0].state, flows[0].error_type, flows[0].error) == ("failed", "overloaded_error", "Overloaded")
