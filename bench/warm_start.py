"""Warm start: ``ccm-tui serve`` from process start to its first answer, and each provider's first
request against its later ones.

    python bench/warm_start.py [--starts 5] [--later 20] [--json FILE]

Per start: a fresh ``serve`` (fake upstream on loopback, providers ``anthropic`` passthrough and
``oai`` translated); ready = process start → first answered ``/health``. Then, per provider in
turn, one request (its first) and ``--later`` more on the same keep-alive client: the first
request's latency against the median of the later ones. Also the proxy's RSS once ready, and once
more after a first ``count_tokens`` (the vocabulary is built on first need) with how long that
first count took against later ones. Prints a table and writes bench/results/warm_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from procs import BENCH, TOKEN, rss, start_fake, start_serve, workdir, write_config  # noqa: E402

PROVIDERS = ("anthropic", "oai")
HEADERS = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}


def _ms(client: httpx.Client, path: str, body: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    return elapsed


def one_start(later: int) -> dict[str, Any]:
    wd = workdir()
    fake = start_fake(wd)
    try:
        serve = start_serve(wd, write_config(wd, fake.base_url))
        try:
            row: dict[str, Any] = {"ready_s": serve.timings["first_request_s"], "rss_ready_mb": rss(serve.proc.pid)}
            with httpx.Client(base_url=serve.base_url, headers=HEADERS, timeout=30) as client:
                for provider in PROVIDERS:
                    body = {"model": f"{provider},bench-c8", "max_tokens": 64,
                            "messages": [{"role": "user", "content": "Say hi."}]}
                    first = _ms(client, "/v1/messages", body)
                    rest = statistics.median(_ms(client, "/v1/messages", body) for _ in range(later))
                    row[provider] = {"first_ms": first, "later_p50_ms": rest, "added_ms": first - rest}
                text = "Count these words, please. " * 200
                body = {"model": "anthropic,bench-c8", "messages": [{"role": "user", "content": text}]}
                first = _ms(client, "/v1/messages/count_tokens", body)
                rest = statistics.median(_ms(client, "/v1/messages/count_tokens", body) for _ in range(later))
                row["count_tokens"] = {"first_ms": first, "later_p50_ms": rest, "added_ms": first - rest}
            row["rss_after_count_mb"] = rss(serve.proc.pid)
            return row
        finally:
            serve.stop()
    finally:
        fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--later", type=int, default=20)
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "warm_start.json")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [one_start(args.later) for _ in range(args.starts)]
    out = {"load_1m_start": load, "load_1m_end": os.getloadavg()[0], "starts": rows}
    print(f"load average 1m: {load:.2f} → {out['load_1m_end']:.2f}; {args.starts} starts")
    print("ready s: " + ", ".join(f"{r['ready_s']:.3f}" for r in rows))
    for name in (*PROVIDERS, "count_tokens"):
        firsts = ", ".join(f"{r[name]['first_ms']:.1f}" for r in rows)
        laters = ", ".join(f"{r[name]['later_p50_ms']:.1f}" for r in rows)
        print(f"{name:>12}: first ms {firsts}  |  later p50 ms {laters}")
    ready = ", ".join(str(r["rss_ready_mb"].get("VmRSS")) for r in rows)
    counted = ", ".join(str(r["rss_after_count_mb"].get("VmRSS")) for r in rows)
    print(f"RSS ready MB: {ready}; after a first count: {counted}")
    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
