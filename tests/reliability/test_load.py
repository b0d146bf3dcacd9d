"""Load: 256 concurrent streams through one proxy with zero errors, and a 10 000-request mixed soak.

The 256-stream test runs client, proxy and upstream in this process (its RSS covers all three);
the soak runs ``ccm-tui serve`` as its own process and measures that process alone. Measured on a
2-core box (printed with ``-s``): 256 streams in ~4 s, +30 MB; soak ~23 s at ~430 req/s, serve RSS
+0.4 to +3 MB after warm-up.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccm_tui.sse import SSEDecoder
from tests.reliability.conftest import BODY, Behaviour, Hostile, Send, auth, rss_mb, stream, stream_events

REPO = Path(__file__).resolve().parents[2]
CONCURRENT_STREAMS = 256
STREAM_RSS_BOUND_MB = 100.0  # growth while 256 streams are open at once
SOAK_REQUESTS = 10_000
SOAK_WARMUP = 1_000
SOAK_RSS_GROWTH_BOUND_MB = 25.0  # growth from after warm-up to the end of the soak
TEXT = "load test words " * 8


def check_stream(raw: bytes, text: str) -> None:
    frames = SSEDecoder().feed(raw)
    kinds = [f.event for f in frames]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "error" not in kinds, kinds
    pieces = [json.loads(f.data)["delta"].get("text", "") for f in frames if f.event == "content_block_delta"]
    assert "".join(pieces) == text.strip(" ") or "".join(pieces) == text


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_256_concurrent_streams_zero_errors_bounded_memory(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy()
    hostile.default = stream(stream_events(TEXT), delay=0.05)
    limits = httpx.Limits(max_connections=CONCURRENT_STREAMS + 8, max_keepalive_connections=CONCURRENT_STREAMS)
    async with httpx.AsyncClient(timeout=200, limits=limits, headers=auth(server)) as client:

        async def one() -> bytes:
            async with client.stream("POST", server.base_url + "/v1/messages",
                                     json={**BODY, "stream": True}) as response:
                assert response.status_code == 200, await response.aread()
                return await response.aread()

        for raw in await asyncio.gather(*(one() for _ in range(8))):  # warm-up: imports, pools, caches
            check_stream(raw, TEXT)
        # From here the upstream holds every stream until all of them are open at once (bounded in time), so
        # the test proves 256 concurrent streams however slowly a loaded machine opens them.
        hostile.default = all_open_then(stream(stream_events(TEXT), delay=0.01), CONCURRENT_STREAMS, hostile)
        gc.collect()
        before = rss_mb()
        t0 = time.monotonic()
        results = await asyncio.gather(*(one() for _ in range(CONCURRENT_STREAMS)), return_exceptions=True)
        elapsed = time.monotonic() - t0
        peak_rss = rss_mb()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    for raw in results:
        check_stream(raw, TEXT)  # type: ignore[arg-type]
    assert hostile.peak_streams == CONCURRENT_STREAMS, f"only {hostile.peak_streams} were open at once"
    failed = [f for f in flows if f.state != "done"]
    assert not failed and len(flows) == CONCURRENT_STREAMS + 8
    growth = peak_rss - before
    print(f"\n256 streams: {elapsed:.2f} s, peak concurrent upstream {hostile.peak_streams}, "
          f"RSS {before:.0f} → {peak_rss:.0f} MB (+{growth:.1f})")
    assert growth < STREAM_RSS_BOUND_MB


def all_open_then(behaviour: Behaviour, count: int, hostile: Hostile, within: float = 150.0) -> Behaviour:
    """``behaviour`` once ``count`` responses are open at the fake at the same time (or ``within`` s passed)."""

    async def run(body: dict[str, Any], send: Send) -> None:
        deadline = time.monotonic() + within
        while hostile.open_streams < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await behaviour(body, send)

    return run


def _http(status: str, content_type: str, body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


async def soak_upstream() -> tuple[asyncio.AbstractServer, str]:
    """A minimal keep-alive HTTP/1.1 upstream on this loop, answering by a marker in the prompt.

    Hand-rolled on purpose: the soak measures the proxy, so the test side must stay cheap.
    """
    message = {"id": "msg_soak", "type": "message", "role": "assistant", "model": "m-main", "stop_sequence": None,
               "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
               "usage": {"input_tokens": 12, "output_tokens": 7}}
    answers = {
        "json": _http("200 OK", "application/json", json.dumps(message).encode()),
        "stream": _http("200 OK", "text/event-stream", b"".join(stream_events("soak stream"))),
        "fail": _http("400 Bad Request", "application/json", json.dumps(
            {"type": "error", "error": {"type": "invalid_request_error", "message": "upstream says no"}}).encode()),
        "busy": _http("529 Overloaded", "application/json", json.dumps(
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}).encode(), "retry-after: 0\r\n"),
    }

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                body = json.loads(await reader.readexactly(int(length.group(1)))) if length else {}
                marker = body.get("messages", [{}])[0].get("content", "")
                key = marker if marker in ("fail", "busy") else ("stream" if body.get("stream") else "json")
                writer.write(answers[key])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


MIX = [("stream", 40), ("json", 30), ("upstream-400", 8), ("upstream-529", 4), ("local-400", 8), ("count", 10)]


async def soak_request(client: httpx.AsyncClient, base: str, kind: str) -> tuple[str, int]:
    messages = [{"role": "user", "content": {"upstream-400": "fail", "upstream-529": "busy"}.get(kind, "hi")}]
    if kind == "stream":
        async with client.stream("POST", base + "/v1/messages",
                                 json={**BODY, "messages": messages, "stream": True}) as response:
            raw = await response.aread()
            assert raw.endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n'), raw[-200:]
            return kind, response.status_code
    if kind == "count":
        response = await client.post(base + "/v1/messages/count_tokens", json={"model": "m", "messages": messages})
        return kind, response.status_code
    if kind == "local-400":
        response = await client.post(base + "/v1/messages", content=b'{"model": "m", "messages": [')
        return kind, response.status_code
    response = await client.post(base + "/v1/messages", json={**BODY, "messages": messages})
    return kind, response.status_code


class ServeProcess:
    """``ccm-tui serve`` as its own process (its own core, its own RSS); stdout goes to a file."""

    def __init__(self, tmp_path: Path, upstream: str) -> None:
        config = tmp_path / "config.toml"
        config.write_text(f'[providers.main]\ntype = "anthropic"\nbase_url = "{upstream}"\napi_key = "k-soak"\n'
                          'models = ["m-main"]\n[router]\ndefault = "main,m-main"\nfallback = ["main,m-main"]\n')
        self.out = tmp_path / "serve.out"
        env = {**os.environ, "CCM_LOG_FILE": str(tmp_path / "ccm.log")}
        with open(self.out, "w") as out, open(tmp_path / "serve.err", "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config),
                                             "--port", "0"], stdout=out, stderr=err, env=env, cwd=REPO)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = re.search(r"ANTHROPIC_BASE_URL=(\S+) ANTHROPIC_AUTH_TOKEN=(\S+)", self.out.read_text())
            if match:
                self.base_url, self.token = match.group(1), match.group(2)
                return
            assert self.process.poll() is None, (tmp_path / "serve.err").read_text()
            time.sleep(0.05)
        raise AssertionError("serve did not start")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as fh:
            return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_soak_10k_mixed_requests_memory_stays_flat(tmp_path) -> None:
    upstream, upstream_url = await soak_upstream()
    serve = ServeProcess(tmp_path, upstream_url)
    kinds = [k for k, weight in MIX for _ in range(weight)]
    rng = random.Random(7)
    plan = [rng.choice(kinds) for _ in range(SOAK_REQUESTS)]
    expected = {"stream": 200, "json": 200, "upstream-400": 400, "upstream-529": 529, "local-400": 400, "count": 200}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    stats: dict[str, int] = {}
    measures: dict[str, float] = {}
    t0 = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=60, limits=limits, headers={"x-api-key": serve.token}) as client:
            queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
            for item in enumerate(plan):
                queue.put_nowait(item)

            async def worker() -> None:
                while not queue.empty():
                    index, kind = queue.get_nowait()
                    if index == SOAK_WARMUP:
                        measures["after_warmup"] = serve.rss_mb()
                    got_kind, status = await soak_request(client, serve.base_url, kind)
                    assert status == expected[got_kind], (got_kind, status)
                    stats[got_kind] = stats.get(got_kind, 0) + 1

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(48))), timeout=840)
        elapsed = time.monotonic() - t0
        end = serve.rss_mb()
        with open(f"/proc/{serve.process.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        measures["serve_cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        assert httpx.get(serve.base_url + "/health").status_code == 200
    finally:
        serve.stop()
        upstream.close()
    assert sum(stats.values()) == SOAK_REQUESTS and set(stats) == set(expected)
    lines = [line for line in serve.out.read_text().splitlines() if " #" in line]
    assert len(lines) == SOAK_REQUESTS, "serve printed one line per request"
    growth = end - measures["after_warmup"]
    print(f"\nsoak: {SOAK_REQUESTS} requests in {elapsed:.1f} s ({SOAK_REQUESTS / elapsed:.0f}/s) {stats}; "
          f"serve CPU {measures['serve_cpu_s']:.1f} s; serve RSS after warm-up {measures['after_warmup']:.0f} MB → end {end:.0f} MB (+{growth:.1f})")
    assert growth < SOAK_RSS_GROWTH_BOUND_MB
