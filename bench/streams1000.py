"""1000 concurrent streams through one provider: time to first byte, direct vs through ``ccm-tui serve``.

    python bench/streams1000.py [--streams 1000] [--shape bench-c20-d100] [--rounds 2] [--json PATH]

Loopback only, in child processes: two fake upstreams (bench/fake_upstream.py), A loaded and B for
another route, and ``python -m ccm_tui serve`` with providers ``a`` → A and ``b`` → B. Each round
opens ``--streams`` streams at once, straight at A ("direct") and then through the proxy to provider
``a``; meanwhile a probe sends one stream at a time to provider ``b`` (the other route). The client
is raw asyncio HTTP/1.1 (one connection per stream, as separate claude sessions would), so no client
pool sits in the figures. Every stream and round is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import summary  # noqa: E402
from procs import BENCH, TOKEN, cpu_seconds, rss, start_fake, start_serve, workdir  # noqa: E402

STREAM_TIMEOUT = 120.0
END = b"\r\n0\r\n\r\n"  # the last chunk of a chunked body


@dataclass
class Run:
    first_byte_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def request_bytes(base_url: str, model: str, headers: dict[str, str]) -> bytes:
    body = json.dumps({"model": model, "max_tokens": 64, "stream": True,
                       "messages": [{"role": "user", "content": "Say hi."}]}).encode()
    host = urlsplit(base_url).netloc
    lines = ["POST /v1/messages HTTP/1.1", f"host: {host}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close", "anthropic-version: 2023-06-01",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def one_stream(base_url: str, raw: bytes, run: Run) -> None:
    """Send, time the first body byte, read to the end; anything but a whole 200 stream is an error."""
    url = urlsplit(base_url)
    t0 = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(STREAM_TIMEOUT):
            reader, writer = await asyncio.open_connection(url.hostname, url.port)
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            first = await reader.read(65536)
            if not first:
                raise ConnectionError("no body")
            ms = (time.perf_counter() - t0) * 1000
            tail = first[-64:]
            while not tail.endswith(END):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                tail = (tail + chunk)[-64:]
        if status != b"200" or b"message_stop" not in tail:
            run.errors.append(f"HTTP {status.decode()} {tail[-40:]!r}")
            return
        run.first_byte_ms.append(ms)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        run.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()


async def probe(base_url: str, raw: bytes, stop: asyncio.Event, run: Run, gap: float = 0.2) -> None:
    """One stream at a time to the other route until ``stop`` (bounded by the load's own timeout)."""
    while not stop.is_set():
        await one_stream(base_url, raw, run)
        try:
            await asyncio.wait_for(stop.wait(), gap)
        except TimeoutError:
            pass


async def load(base_url: str, raw: bytes, streams: int, probe_url: str, probe_raw: bytes
               ) -> tuple[Run, Run, float]:
    run, probes, stop = Run(), Run(), asyncio.Event()
    prober = asyncio.create_task(probe(probe_url, probe_raw, stop, probes))
    t0 = time.perf_counter()
    await asyncio.gather(*(one_stream(base_url, raw, run) for _ in range(streams)))
    wall = time.perf_counter() - t0
    stop.set()
    await prober
    return run, probes, wall


def report(run: Run, wall: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"first_byte_ms": summary(run.first_byte_ms), "errors": len(run.errors),
                           "error_samples": sorted(set(run.errors))[:3]}
    if wall is not None:
        out["wall_s"] = round(wall, 2)
    return out


def write_config(work: Path, upstream_a: str, upstream_b: str) -> Path:
    path = work / "streams1000.toml"
    path.write_text(f"""\
[server]
auth_token = "{TOKEN}"

[providers.a]
type = "anthropic"
base_url = "{upstream_a}"
api_key = "bench-upstream-key"
models = ["bench"]

[providers.b]
type = "anthropic"
base_url = "{upstream_b}"
api_key = "bench-upstream-key"
models = ["bench"]

[router]
default = "a,bench"
""")
    return path


def bench(streams: int, shape: str, rounds: int, log) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    work = workdir()
    fake_a, fake_b = start_fake(work, name="fake-a"), start_fake(work, name="fake-b")
    children = [fake_a, fake_b]
    results: dict[str, Any] = {"streams": streams, "shape": shape, "nproc": os.cpu_count(),
                               "date": time.strftime("%Y-%m-%d %H:%M %Z"), "rounds": []}
    try:
        serve = start_serve(work, write_config(work, fake_a.base_url, fake_b.base_url))
        children.append(serve)
        key = {"x-api-key": TOKEN}
        direct = request_bytes(fake_a.base_url, shape, {"x-api-key": "bench-upstream-key"})
        proxied = request_bytes(serve.base_url, f"a,{shape}", key)
        other = request_bytes(serve.base_url, "b,bench-c8", key)
        idle = Run()
        for _ in range(20):
            asyncio.run(one_stream(serve.base_url, other, idle))
        results["other_route_idle"] = report(idle)
        results["rss_idle_mb"] = rss(serve.proc.pid)
        for i in range(rounds):
            entry: dict[str, Any] = {"loadavg_1m_before": round(os.getloadavg()[0], 2)}
            log(f"round {i + 1}: {streams} streams direct ...")
            run, probes, wall = asyncio.run(load(fake_a.base_url, direct, streams, serve.base_url, other))
            entry["direct"] = report(run, wall)
            entry["other_route_during_direct"] = report(probes)
            log(f"round {i + 1}: {streams} streams through ccm-tui ...")
            cpu0 = cpu_seconds(serve.proc.pid)
            run, probes, wall = asyncio.run(load(serve.base_url, proxied, streams, serve.base_url, other))
            entry["proxy"] = report(run, wall)
            entry["proxy_cpu_s"] = round(cpu_seconds(serve.proc.pid) - cpu0, 2)
            entry["other_route_during_proxy"] = report(probes)
            entry["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
            d, p = entry["direct"]["first_byte_ms"], entry["proxy"]["first_byte_ms"]
            entry["ratio_p50"] = round(p["p50"] / d["p50"], 2)
            entry["ratio_p99"] = round(p["p99"] / d["p99"], 2)
            results["rounds"].append(entry)
            log(f"  direct p50/p99 {d['p50']:.0f}/{d['p99']:.0f} ms, proxy {p['p50']:.0f}/{p['p99']:.0f} ms, "
                f"errors {entry['proxy']['errors']}, other route p99 "
                f"{entry['other_route_during_proxy']['first_byte_ms']['p99']:.0f} ms")
        results["rss_serving_mb"] = rss(serve.proc.pid)
    finally:
        for child in reversed(children):
            child.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--shape", default="bench-c20-d100", help="fake upstream answer: N deltas, MS apart")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "streams1000.json")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[streams1000] {msg}", file=sys.stderr, flush=True)

    results = bench(min(args.streams, 5000), args.shape, min(args.rounds, 10), log)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
