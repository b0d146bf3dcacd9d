"""Upstream bodies are bounded: size (decoded), decompression, and time on the loop; stalls count events.

Memory is judged by the peak RSS growth of this process (proxy and fakes share it) sampled while
a request runs; the limits are generous multiples of the configured cap, far below what an
unbounded read costs (the bodies here are 256 MiB decoded).
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import httpx
import pytest

from ccm_tui.config import DEFAULT_MAX_RESPONSE_BYTES, ConfigError, parse_config
from tests.reliability.conftest import BODY, auth, message_json, rss_mb, stream, stream_events

CAP = 1024 * 1024
TOP = f"[server]\nmax_response_bytes = {CAP}"
FALLBACK = 'fallback = ["spare,m-spare"]'
STREAM_CHUNKS = {
    "openai": b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n',
    "gemini": b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]}}]}\n\n',
}


@functools.lru_cache(maxsize=8)
def gzipped(block: bytes, total: int) -> bytes:
    """``block`` repeated to ``total`` bytes, gzip-compressed (a bomb: ~1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    reps = max(1, (1 << 20) // len(block))
    big = block * reps
    parts = [packer.compress(big) for _ in range(total // len(big))]
    return b"".join(parts) + packer.flush()


def body_of(payload: bytes | None = None, *, total: int = 0, status: int = 200, content_type: str = "application/json",
            encoding: str | None = None):  # type: ignore[no-untyped-def]
    """An answer: ``payload`` in 64 KiB pieces, or the start of a JSON string ``total`` bytes long."""

    async def run(body: dict[str, Any], send) -> None:  # type: ignore[no-untyped-def]
        headers = [(b"content-type", content_type.encode())]
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if payload is not None:
            for i in range(0, len(payload), 65536):
                await send({"type": "http.response.body", "body": payload[i:i + 65536], "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b'{"pad":"', "more_body": True})
            piece = b"x" * (1 << 20)
            for _ in range(total // len(piece)):
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                await asyncio.sleep(0.01)  # paced: the fake's own send buffer would count as the proxy's RSS
        await send({"type": "http.response.body", "body": b""})

    return run


@contextmanager
def peak_growth_mb() -> Iterator[list[float]]:
    """Peak RSS growth (MB) while the block runs, sampled every 5 ms; read it from the list after."""
    base, peak, done = rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb() - base)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join(5)


def post(server, body=BODY, timeout: float = 60):  # type: ignore[no-untyped-def]
    return httpx.post(server.base_url + "/v1/messages", json=body, headers=auth(server), timeout=timeout)


def test_max_response_bytes_defaults_to_64_mib_and_is_validated() -> None:
    base = '[providers.a]\ntype = "anthropic"\napi_key = "k"\n[router]\ndefault = "a,m"\n'
    assert parse_config(base).server.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 64 * 1024 * 1024
    assert parse_config("[server]\nmax_response_bytes = 2048\n" + base).server.max_response_bytes == 2048
    with pytest.raises(ConfigError, match="max_response_bytes: must be at least 1024"):
        parse_config("[server]\nmax_response_bytes = 10\n" + base)


@pytest.mark.parametrize("encoding", [None, "gzip"], ids=["plain", "gzip-bomb"])
def test_oversized_answer_is_typed_bounded_and_falls_back(hostile, start_hostile_proxy, flows, encoding) -> None:
    total = 256 * 1024 * 1024
    huge = body_of(total=total) if encoding is None else body_of(gzipped(b" ", total), encoding="gzip")
    server = start_hostile_proxy(top=TOP)
    hostile.script = [message_json("warm"), huge, huge]
    assert post(server).status_code == 200  # one-time costs (token counting tables, pools) paid first
    with peak_growth_mb() as growth:
        response = post(server)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "api_error"
    assert f"more than {CAP} bytes (max_response_bytes)" in response.json()["error"]["message"]
    assert growth[0] < 64, f"RSS grew {growth[0]:.0f} MB reading a {total >> 20} MiB answer capped at 1 MiB"
    server2 = start_hostile_proxy(top=TOP, router=FALLBACK)
    hostile.script = [huge, message_json("from spare")]
    client = anthropic.Anthropic(base_url=server2.base_url, api_key=server2.token.reveal(), max_retries=0)
    assert client.messages.create(**BODY).content[0].text == "from spare"
    assert hostile.models[-2:] == ["m-main", "m-spare"]


def test_huge_error_body_is_read_bounded(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy()
    hostile.script = [message_json("warm"), *[body_of(gzipped(b"overloaded ", 256 * 1024 * 1024), status=500,
                                                      encoding="gzip", content_type="text/plain")] * 2]
    assert post(server).status_code == 200
    with peak_growth_mb() as growth:
        response = post(server)
    assert response.status_code == 500 and response.json()["error"]["type"] == "api_error"
    assert growth[0] < 64, f"RSS grew {growth[0]:.0f} MB for a 256 MiB error body"


def test_a_compressed_answer_within_the_cap_is_decoded(hostile, start_hostile_proxy) -> None:
    """Nothing asks for compression, but a server that compresses anyway still works, streamed or not."""
    server = start_hostile_proxy()
    answer = {"id": "msg_z", "type": "message", "role": "assistant", "model": "m-main", "stop_reason": "end_turn",
              "content": [{"type": "text", "text": "zipped"}], "usage": {"input_tokens": 1, "output_tokens": 1}}
    hostile.script = [body_of(zlib.compress(json.dumps(answer).encode()), encoding="deflate"),
                      body_of(gzip.compress(b"".join(stream_events("zipped stream"))), encoding="gzip",
                              content_type="text/event-stream")]
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    assert client.messages.create(**BODY).content[0].text == "zipped"
    with client.messages.stream(**BODY) as s:
        assert "".join(s.text_stream) == "zipped stream"
    assert all(r["headers"]["accept-encoding"] == "identity" for r in hostile.requests)


@pytest.mark.parametrize("kind", ["anthropic", "openai", "gemini"])
def test_every_provider_asks_for_identity_and_refuses_other_encodings(hostile, start_hostile_proxy, kind) -> None:
    server = start_hostile_proxy(kind=kind)
    hostile.script = [body_of(b"\x00" * 64, encoding="br")] * 2
    response = post(server)
    assert response.status_code == 502 and response.json()["error"]["type"] == "api_error"
    assert "Content-Encoding 'br', which was not asked for" in response.json()["error"]["message"]
    assert hostile.requests[0]["headers"]["accept-encoding"] == "identity"


def test_json_too_costly_to_build_is_refused(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy()
    hostile.script = [body_of(b"[" + b"{}," * 400_000 + b"{}]")] * 2
    response = post(server)
    assert response.status_code == 502 and "JSON of more than" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_sse_gzip_bomb_is_cut_and_never_holds_the_loop(hostile, start_hostile_proxy, kind) -> None:
    server = start_hostile_proxy(kind=kind, top=f"[server]\nmax_response_bytes = {4 * CAP}")
    hostile.default = body_of(gzipped(STREAM_CHUNKS[kind], 256 * 1024 * 1024), encoding="gzip",
                              content_type="text/event-stream")
    result: dict[str, bytes] = {}

    def read() -> None:
        with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                          headers=auth(server), timeout=60) as response:
            result["raw"] = b"".join(response.iter_raw())

    reader = threading.Thread(target=read)
    with peak_growth_mb() as growth:
        reader.start()
        latencies = []
        deadline = time.monotonic() + 120
        while reader.is_alive() and time.monotonic() < deadline:
            t0 = time.monotonic()
            assert httpx.get(server.base_url + "/health", timeout=10).status_code == 200
            latencies.append(time.monotonic() - t0)
            time.sleep(0.02)
        reader.join(10)
    assert latencies and max(latencies) < 2.0, f"/health took up to {max(latencies):.2f} s during the bomb"
    raw = result["raw"]
    assert raw.endswith(b"\n\n") and raw.rsplit(b"\n\n", 2)[-2].startswith(b"event: error\n")
    assert f"more than {4 * CAP} bytes (max_response_bytes)".encode() in raw
    assert growth[0] < 64, f"RSS grew {growth[0]:.0f} MB"


@pytest.mark.parametrize("keepalive", [b": keepalive\n\n", b'event: ping\ndata: {"type":"ping"}\n\n'],
                         ids=["comment", "ping"])
def test_stall_timeout_counts_events_not_bytes(hostile, start_hostile_proxy, flows, keepalive) -> None:
    server = start_hostile_proxy(main="stall_timeout = 1")
    hostile.default = stream([*stream_events()[:3], *[keepalive] * 200], delay=0.05)  # 10 s of keepalives
    t0 = time.monotonic()
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers=auth(server), timeout=30) as response:
        raw = b"".join(response.iter_raw())
    assert b"stalled: no event for 1 s (stall_timeout)" in raw
    assert time.monotonic() - t0 < 8
    assert flows[-1].error_type == "timeout_error"
