"""Stalls become typed timeouts, long silences get keepalive pings, client disconnects cancel upstream."""

from __future__ import annotations

import time

import anthropic
import httpx
import pytest

from ccm_tui.proxy import attempts
from tests.reliability.conftest import (
    BODY,
    auth,
    headers_then_hang,
    message_json,
    proxy_task_names,
    proxy_tasks,
    stream,
    stream_events,
    tcp_connections,
    wait_until,
)

STREAM = {**BODY, "stream": True}


def raw_stream(server, body=STREAM, timeout: float = 30) -> bytes:  # type: ignore[no-untyped-def]
    with httpx.stream("POST", server.base_url + "/v1/messages", json=body, headers=auth(server),
                      timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        return b"".join(response.iter_raw())


def test_mid_stream_stall_becomes_timeout_error_event(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(main="stall_timeout = 0.8")
    hostile.default = stream(stream_events()[:4], hang=True)
    t0 = time.monotonic()
    raw = raw_stream(server)
    elapsed = time.monotonic() - t0
    assert 0.7 < elapsed < 5, elapsed
    assert raw.endswith(b'event: error\ndata: {"type":"error","error":{"type":"timeout_error","message":'
                        b'"provider \'main\' stalled: no event for 0.8 s (stall_timeout)"}}\n\n')
    assert flows[-1].error_type == "timeout_error" and len(flows[-1].attempts) == 1
    wait_until(lambda: hostile.open_streams == 0, 2)  # the stalled upstream was let go
    assert httpx.get(server.base_url + "/health").status_code == 200


def test_no_first_event_is_504_or_falls_back(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(main="first_byte_timeout = 0.5")
    hostile.default = stream([], hang=True)  # headers, then nothing at all
    response = httpx.post(server.base_url + "/v1/messages", json=STREAM, headers=auth(server), timeout=30)
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"
    assert "first_byte_timeout" in response.json()["error"]["message"]
    assert [a.status for a in flows[-1].attempts] == [504, 504], "a client that does not retry: one retry here"
    server2 = start_hostile_proxy(main="first_byte_timeout = 0.5", router='fallback = ["spare,m-spare"]')
    hostile.script = [stream([], hang=True), stream()]
    client = anthropic.Anthropic(base_url=server2.base_url, api_key=server2.token.reveal(), max_retries=0)
    with client.messages.stream(**BODY) as s:
        assert "".join(s.text_stream) == "one two three"
    assert [a.status for a in flows[-1].attempts] == [504, 200], "the SDK retries itself: straight to the fallback"


def test_non_stream_body_that_never_ends_times_out(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy(main="timeout = 0.6")
    hostile.script = [headers_then_hang(), headers_then_hang()]
    t0 = time.monotonic()
    response = httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server), timeout=30)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["type"] == "timeout_error"
    assert time.monotonic() - t0 < 5
    hostile.default = message_json("still serving")
    assert httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server)).status_code == 200


def test_default_stall_timeout_is_long_but_finite(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy()
    assert attempts.stall_timeout(server.state.config, "main") == attempts.DEFAULT_STALL_TIMEOUT_S == 300.0
    server2 = start_hostile_proxy(main="stall_timeout = 42")
    assert attempts.stall_timeout(server2.state.config, "main") == 42


def test_pings_keep_a_silent_stream_alive(hostile, start_hostile_proxy, monkeypatch) -> None:
    monkeypatch.setattr(attempts, "PING_INTERVAL_S", 0.15)
    server = start_hostile_proxy(main="stall_timeout = 5")
    events = stream_events("slow thinker")
    hostile.default = stream(events, gaps={3: 1.0})  # a 1 s silence after the first text block opened
    raw = raw_stream(server)
    frames = [f for f in raw.split(b"\n\n") if f]
    pings = [i for i, f in enumerate(frames) if f == b'event: ping\ndata: {"type":"ping"}']
    assert len(pings) >= 4, f"expected keepalives during the silence, got {len(pings)}"
    assert min(pings) > 0, "never before message_start"
    assert all(f.startswith(b"event: ") and b"\ndata: " in f for f in frames), "pings only between whole frames"
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    hostile.default = stream(events, gaps={3: 1.0})
    with client.messages.stream(**BODY) as s:
        assert "".join(s.text_stream) == "slow thinker"  # the SDK takes pings in its stride


def test_no_ping_inside_a_split_frame(hostile, start_hostile_proxy, monkeypatch) -> None:
    monkeypatch.setattr(attempts, "PING_INTERVAL_S", 0.1)
    server = start_hostile_proxy(main="stall_timeout = 5")
    events = stream_events("split")
    half = len(events[3]) // 2
    chunks = [*events[:3], events[3][:half], events[3][half:], *events[4:]]
    hostile.default = stream(chunks, gaps={4: 0.6})  # silence in the middle of a frame
    raw = raw_stream(server)
    assert events[3] in raw, "the split frame arrives whole, no ping spliced into it"


@pytest.mark.parametrize("silent", [False, True], ids=["streaming", "during-silence"])
def test_client_disconnect_cancels_upstream_within_1s(hostile, start_hostile_proxy, monkeypatch, flows,
                                                       silent) -> None:
    monkeypatch.setattr(attempts, "PING_INTERVAL_S", 0.1)
    server = start_hostile_proxy()
    port = int(hostile.base_url.rsplit(":", 1)[1])
    events = stream_events("x " * 50)
    hostile.default = stream(events[:3], hang=True) if silent else stream(events * 200, delay=0.01)
    assert httpx.get(server.base_url + "/health").status_code == 200  # the server's own tasks are all up
    baseline = proxy_task_names(server)
    baseline_tasks = len(baseline)
    clients = [httpx.Client(timeout=30) for _ in range(4)]
    streams = []
    for client in clients:
        cm = client.stream("POST", server.base_url + "/v1/messages", json=STREAM, headers=auth(server))
        response = cm.__enter__()
        chunks = response.iter_raw()  # kept referenced: a collected generator would close the response
        assert next(chunks).startswith(b"event: message_start")
        streams.append((cm, chunks))
    wait_until(lambda: hostile.open_streams == 4, 3)
    assert tcp_connections(port) >= 4
    t0 = time.monotonic()
    for (cm, _), client in zip(streams, clients, strict=True):
        cm.__exit__(None, None, None)  # response not read to the end: httpx drops the connection
        client.close()
    took = wait_until(lambda: hostile.open_streams == 0 and hostile.disconnects >= 4, 3)
    assert took < 1.0, f"upstream cancelled after {took:.2f} s"
    wait_until(lambda: tcp_connections(port) == 0, 1.0 - (time.monotonic() - t0) + 0.5)
    try:
        wait_until(lambda: proxy_tasks(server) <= baseline_tasks, 2)
    except AssertionError:
        raise AssertionError(f"tasks left: {proxy_task_names(server)} vs {baseline}") from None
    assert [f.error for f in flows] == ["client disconnected"] * 4
    assert httpx.get(server.base_url + "/health").status_code == 200
