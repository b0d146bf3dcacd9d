"""The measurements: each bounded in count and in time, each run the same way direct and via a proxy.

A *target* is one way to reach an upstream answer: a base URL, headers, and a model name (the
fake upstream reads the answer's shape from it; a proxy gets ``provider,model``).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    headers: dict[str, str]
    model_prefix: str = ""  # "anthropic," / "oai," through the proxy; "" direct

    def body(self, shape: str, stream: bool, template: dict[str, Any] | None = None) -> bytes:
        body = dict(template or {"max_tokens": 64, "messages": [{"role": "user", "content": "Say hi."}]})
        body["model"] = self.model_prefix + shape
        body["stream"] = stream
        return json.dumps(body).encode()

    @property
    def url(self) -> str:
        return self.base_url + "/v1/messages"


def probe(target: Target) -> str | None:
    """None when the target answers a plain request with a 200 Anthropic message, else why not."""
    try:
        r = httpx.post(target.url, content=target.body("bench-c8", False),
                       headers={**target.headers, "content-type": "application/json"}, timeout=30)
        if r.status_code == 200 and r.json().get("type") == "message":
            return None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return f"HTTP {r.status_code}: {r.text[:300]}"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50": round(pct(ms, 50), 3), "p95": round(pct(ms, 95), 3),
            "p99": round(pct(ms, 99), 3), "mean": round(statistics.fmean(ms), 3) if ms else float("nan")}


def _interleaved(targets: list[Target], one: Callable[[httpx.Client, Target], float], n: int, warmup: int,
                 budget_s: float) -> dict[str, Any]:
    """Run ``one`` for each target in turn, ``n`` rounds after ``warmup``; drift hits all alike."""
    clients = {t.name: httpx.Client(timeout=30.0, headers=t.headers) for t in targets}
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    errors = {t.name: 0 for t in targets}
    deadline = time.perf_counter() + budget_s
    try:
        for i in range(warmup + n):
            for t in targets:
                try:
                    ms = one(clients[t.name], t)
                except (httpx.HTTPError, AssertionError):
                    errors[t.name] += 1
                    continue
                if i >= warmup:
                    samples[t.name].append(ms)
            if time.perf_counter() > deadline:
                break
    finally:
        for client in clients.values():
            client.close()
    return {t.name: {**summary(samples[t.name]), "errors": errors[t.name]} for t in targets}


def nonstream_latency(targets: list[Target], n: int, warmup: int, budget_s: float,
                      template: dict[str, Any] | None = None) -> dict[str, Any]:
    bodies = {t.name: t.body("bench-c8", False, template) for t in targets}

    def one(client: httpx.Client, t: Target) -> float:
        t0 = time.perf_counter()
        r = client.post(t.url, content=bodies[t.name], headers={"content-type": "application/json"})
        ms = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200 and r.content.endswith(b"}"), r.status_code
        return ms

    return _interleaved(targets, one, n, warmup, budget_s)


def first_byte(targets: list[Target], n: int, warmup: int, budget_s: float) -> dict[str, Any]:
    """Request sent → first body byte of an SSE answer (the whole short stream is then read)."""
    bodies = {t.name: t.body("bench-c8", True) for t in targets}

    def one(client: httpx.Client, t: Target) -> float:
        t0 = time.perf_counter()
        with client.stream("POST", t.url, content=bodies[t.name],
                           headers={"content-type": "application/json"}) as r:
            assert r.status_code == 200, r.status_code
            raw = r.iter_raw()
            first = next(raw)
            ms = (time.perf_counter() - t0) * 1000
            tail = first
            for chunk in raw:
                tail = (tail + chunk)[-64:]
        assert b"message_stop" in tail, tail
        return ms

    return _interleaved(targets, one, n, warmup, budget_s)


def stream_throughput(target: Target, n_chunks: int, timeout: float, cpu: Callable[[], float] | None = None
                      ) -> dict[str, Any]:
    """One long stream: Anthropic events received per second (and per proxy CPU-second)."""
    body = target.body(f"bench-c{n_chunks}", True)
    frames = 0
    last = b""
    tail = b""
    c0 = cpu() if cpu else 0.0
    t0 = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, headers=target.headers) as client:
            with client.stream("POST", target.url, content=body, headers={"content-type": "application/json"}) as r:
                if r.status_code != 200:
                    return {"error": f"HTTP {r.status_code}: {r.read()[:300]!r}"}
                for chunk in r.iter_raw():
                    frames += chunk.count(b"\n\n") + (last[-1:] == b"\n" and chunk[:1] == b"\n")
                    last = chunk
                    tail = (tail + chunk)[-64:]
                    if time.perf_counter() - t0 > timeout:
                        return {"error": f"stream not done within {timeout}s"}
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    wall = time.perf_counter() - t0
    if b"message_stop" not in tail:  # cut short: no rates, they would flatter it
        return {"error": f"stream ended after {frames} events without message_stop", "events": frames,
                "complete": False}
    out: dict[str, Any] = {"upstream_chunks": n_chunks, "events": frames, "wall_s": round(wall, 3),
                           "events_per_s": round(frames / wall), "chunks_per_s": round(n_chunks / wall),
                           "complete": True}
    if cpu:
        used = cpu() - c0
        out["proxy_cpu_s"] = round(used, 3)
        out["chunks_per_cpu_s"] = round(n_chunks / used) if used > 0 else None
    return out


async def _concurrent(target: Target, streams: int, shape: str, timeout: float) -> dict[str, Any]:
    body = target.body(shape, True)
    limits = httpx.Limits(max_connections=streams + 8, max_keepalive_connections=streams + 8)
    errors: list[str] = []
    durations: list[float] = []
    async with httpx.AsyncClient(timeout=timeout, headers=target.headers, limits=limits) as client:
        async def one() -> None:
            t0 = time.perf_counter()
            try:
                async with client.stream("POST", target.url, content=body,
                                         headers={"content-type": "application/json"}) as r:
                    tail = b""
                    async for chunk in r.aiter_raw():
                        tail = (tail + chunk)[-64:]
                    if r.status_code != 200 or b"message_stop" not in tail:
                        errors.append(f"HTTP {r.status_code} {tail[-40:]!r}")
                        return
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            durations.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(streams))), timeout + 5)
        wall = time.perf_counter() - t0
    return {"streams": streams, "errors": len(errors), "error_samples": sorted(set(errors))[:3],
            "wall_s": round(wall, 3), "stream_ms": summary(durations)}


def concurrent_streams(target: Target, streams: int, shape: str, timeout: float = 60.0) -> dict[str, Any]:
    try:
        return asyncio.run(_concurrent(target, streams, shape, timeout))
    except TimeoutError:
        return {"streams": streams, "errors": streams, "error_samples": ["timed out"]}


def cpu_per_request(target: Target, n: int, cpu: Callable[[], float], budget_s: float) -> float | None:
    """Proxy CPU microseconds per non-stream request (sequential, proxy only, after warm-up)."""
    body = target.body("bench-c8", False)
    done = 0
    with httpx.Client(timeout=30.0, headers=target.headers) as client:
        c0 = cpu()
        deadline = time.perf_counter() + budget_s
        while done < n and time.perf_counter() < deadline:
            client.post(target.url, content=body, headers={"content-type": "application/json"})
            done += 1
        used = cpu() - c0
    return round(used / done * 1e6) if done and used > 0 else None
