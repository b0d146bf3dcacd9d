"""Retry and fallback: what is retried, how long we wait, where we go next, and what the record shows."""

from __future__ import annotations

import dataclasses
import time

import anthropic
import httpx
import pytest

from tests.reliability.conftest import BODY, auth, error, message_json, sse, stream, stream_events

FALLBACK = 'fallback = ["spare,m-spare"]'


def post(server, body=None, **kw):  # type: ignore[no-untyped-def]
    return httpx.post(server.base_url + "/v1/messages", json=body or BODY, headers=auth(server), timeout=30, **kw)


def attempts(flow) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    return [(f"{a.provider},{a.model}", a.status) for a in flow.attempts]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 529])
def test_retryable_status_retries_then_falls_back(hostile, start_hostile_proxy, flows, status) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    hostile.script = [error(status, headers={"retry-after": "0"}), error(status, headers={"retry-after": "0"}),
                      message_json("from spare")]
    response = post(server)
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "from spare"
    assert hostile.models == ["m-main", "m-main", "m-spare"]
    flow = flows[-1]
    expected = {408: 504, 429: 429, 500: 500, 502: 500, 503: 529, 529: 529}[status]
    assert attempts(flow) == [("main,m-main", expected), ("main,m-main", expected), ("spare,m-spare", 200)]
    assert flow.attempts[0].error and flow.target == "spare,m-spare"
    assert any("answered by spare,m-spare after 2 failed" in n for n in flow.notes)


def test_connection_error_falls_back(hostile, start_proxy, flows) -> None:
    from tests.reliability.conftest import two_provider_config

    config = two_provider_config(hostile.base_url, router=FALLBACK)
    main = dataclasses.replace(config.providers["main"], base_url="http://127.0.0.1:9")  # nothing listens there
    config = dataclasses.replace(config, providers={**config.providers, "main": main})
    from ccm_tui.events import EventBus, FlowEvent

    bus = EventBus()
    bus.subscribe(lambda e, f: flows.append(f) if e in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    server = start_proxy(config, bus)
    hostile.default = message_json("spare ok")
    response = post(server)
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "spare ok"
    assert attempts(flows[-1]) == [("main,m-main", 502), ("main,m-main", 502), ("spare,m-spare", 200)]
    assert "unreachable" in (flows[-1].attempts[0].error or "")


def test_retry_after_is_honoured_on_the_same_target(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    hostile.script = [error(429, "rate_limit_error", headers={"retry-after": "1.2"}), message_json("second try")]
    response = post(server)
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "second try"
    first, second = hostile.requests
    assert second["t"] - first["t"] >= 1.15, "waited as long as retry-after said"
    assert hostile.models == ["m-main", "m-main"]


def test_retry_after_too_long_moves_on_without_waiting(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    hostile.script = [error(429, "rate_limit_error", headers={"retry-after": "120"}), message_json("spare")]
    t0 = time.monotonic()
    response = post(server)
    assert response.status_code == 200 and time.monotonic() - t0 < 3
    assert hostile.models == ["m-main", "m-spare"]
    assert any("too long" in n for n in flows[-1].notes)


def test_last_error_reaches_client_with_retry_after(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    hostile.default = error(429, "rate_limit_error", "slow down", headers={"retry-after": "0"})
    response = post(server)
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error" and "slow down" in response.json()["error"]["message"]
    assert response.headers["retry-after"] == "0"
    assert len(flows[-1].attempts) == 4 and flows[-1].state == "failed"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_non_retryable_errors_are_not_retried(hostile, start_hostile_proxy, flows, status) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    hostile.default = error(status, "invalid_request_error", "no")
    shown = {409: 400, 422: 400}.get(status, status)  # the Anthropic statuses they map to
    assert post(server).status_code == shown
    assert hostile.models == ["m-main"], "a 4xx other than 408/429: neither retried nor sent to a fallback"
    assert attempts(flows[-1]) == [("main,m-main", shown)]


def test_route_fallbacks_override_the_global_list(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=f'think = "main,m-think"\n{FALLBACK}\n[router.fallbacks]\n'
                                        'think = ["main,m-think-backup"]')
    hostile.script = [error(503)] * 2 + [message_json("backup")]
    thinking = {**BODY, "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert post(server, thinking).status_code == 200
    assert hostile.models == ["m-think", "m-think", "m-think-backup"]
    assert flows[-1].route == "think"
    hostile.script = [error(503)] * 2 + [message_json("global")]
    assert post(server).status_code == 200
    assert hostile.models[3:] == ["m-main", "m-main", "m-spare"], "other routes use [router] fallback"


def test_stream_failing_before_first_byte_falls_back(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    overloaded = sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    hostile.script = [stream([overloaded]), stream(stream_events("from spare"))]
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with client.messages.stream(**BODY) as s:
        assert "".join(s.text_stream) == "from spare"
    assert hostile.models == ["m-main", "m-spare"], "an SDK client retries by itself: no retry of the same target"
    assert attempts(flows[-1]) == [("main,m-main", 529), ("spare,m-spare", 200)]
    assert (flows[-1].state, flows[-1].error) == ("done", None), "the failed attempt's error is not the flow's"
    hostile.script = [stream([overloaded]), stream([]), stream(stream_events("from spare"))]
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers=auth(server), timeout=30) as response:
        assert response.status_code == 200 and b"event: message_stop" in response.read()
    assert hostile.models[2:] == ["m-main", "m-main", "m-spare"], "a plain client: one retry, then the fallback"
    assert attempts(flows[-1]) == [("main,m-main", 529), ("main,m-main", 502), ("spare,m-spare", 200)]


def test_after_first_byte_no_retry_error_event_then_close(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(router=FALLBACK)
    events = stream_events("a b c d e")
    hostile.script = [stream(events[:5], delay=0.05)]  # message_start, ping, block start, 2 deltas: then cut
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers=auth(server), timeout=30) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_raw())
    relayed = b"".join(events[1:5])  # message_start itself is rewritten (the client's model name)
    assert raw.startswith(b"event: message_start\n") and relayed in raw, "what was relayed stays relayed"
    tail = raw[raw.index(relayed) + len(relayed):]
    assert tail.startswith(b"event: error\ndata: ") and tail.endswith(b"\n\n") and tail.count(b"event:") == 1
    assert b'"type":"api_error"' in tail and b"event: message_stop" not in raw
    assert hostile.models == ["m-main"], "no retry and no fallback after the first byte"
    flow = flows[-1]
    assert flow.state == "failed" and len(flow.attempts) == 1
    assert "before message_stop" in (flow.attempts[0].error or "")
