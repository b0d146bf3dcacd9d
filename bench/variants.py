"""Does uvloop / orjson pay for itself? The proxy's key figures with each speed-up (bench/launch.py).

    python bench/variants.py [--quick] [--json PATH]

Each variant gets a fresh ``serve`` against the same fake upstream; the asyncio loop runs first and
last so the table also shows the run-to-run noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Target, cpu_per_request, first_byte, nonstream_latency, stream_throughput  # noqa: E402
from procs import BENCH, TOKEN, cpu_seconds, rss, start_fake, start_serve, workdir, write_config  # noqa: E402
from run import _claude_code_body  # noqa: E402

VARIANTS: list[tuple[str, tuple[str, ...]]] = [
    ("asyncio loop", ("--asyncio",)), ("uvloop (default)", ()), ("asyncio+orjson", ("--asyncio", "--orjson")),
    ("uvloop+orjson", ("--orjson",)), ("asyncio loop again", ("--asyncio",)),
]


def measure_variant(work: Path, config: Path, fake_url: str, variant: tuple[str, ...], p: dict[str, Any]
                    ) -> dict[str, Any]:
    serve = start_serve(work, config, name="variant", variant=variant)
    try:
        pid = serve.proc.pid
        hdr = {"anthropic-version": "2023-06-01"}
        direct = Target("direct", fake_url, {**hdr, "x-api-key": "k"})
        ccm = Target("ccm", serve.base_url, {**hdr, "x-api-key": TOKEN}, "anthropic,")
        oai = Target("ccm_openai", serve.base_url, {**hdr, "x-api-key": TOKEN}, "oai,")
        ns = nonstream_latency([direct, ccm], p["n"], p["warmup"], 60)
        cpu_us = cpu_per_request(ccm, p["n"], lambda: cpu_seconds(pid), 30)
        cc = nonstream_latency([direct, ccm], p["n"] // 3, p["warmup"], 60, _claude_code_body())
        fb = first_byte([direct, ccm, oai], p["n"] // 3, p["warmup"], 60)
        cpu = lambda: cpu_seconds(pid)  # noqa: E731
        tp_a = stream_throughput(ccm, p["chunks"], 60, cpu)
        tp_o = stream_throughput(oai, p["chunks"], 60, cpu)
        return {
            "ready_s": round(serve.timings["first_request_s"], 3),
            "added_p50_ms": round(ns["ccm"]["p50"] - ns["direct"]["p50"], 3),
            "added_p99_ms": round(ns["ccm"]["p99"] - ns["direct"]["p99"], 3),
            "cpu_us_per_request": cpu_us,
            "cc_body_added_p50_ms": round(cc["ccm"]["p50"] - cc["direct"]["p50"], 3),
            "first_byte_added_p50_ms": round(fb["ccm"]["p50"] - fb["direct"]["p50"], 3),
            "first_byte_openai_added_p50_ms": round(fb["ccm_openai"]["p50"] - fb["direct"]["p50"], 3),
            "passthrough_chunks_per_cpu_s": tp_a.get("chunks_per_cpu_s"),
            "openai_chunks_per_cpu_s": tp_o.get("chunks_per_cpu_s"),
            "rss_mb": rss(pid).get("VmHWM"),
        }
    finally:
        serve.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "variants.json")
    args = parser.parse_args()
    p = {"n": 30, "warmup": 5, "chunks": 500} if args.quick else {"n": 1000, "warmup": 100, "chunks": 50_000}
    work = workdir()
    fake = start_fake(work)
    results: dict[str, Any] = {}
    try:
        config = write_config(work, fake.base_url)
        for name, flags in VARIANTS:
            print(f"[variants] {name} ...", file=sys.stderr, flush=True)
            try:
                results[name] = measure_variant(work, config, fake.base_url, flags, p)
            except (ImportError, RuntimeError) as exc:
                results[name] = {"error": str(exc)[:300]}
    finally:
        fake.stop()
    keys = list(next((r for r in results.values() if "error" not in r), {}))
    print("variant".ljust(16) + "".join(k.rjust(max(len(k), 10) + 2) for k in keys))
    for name, r in results.items():
        if "error" in r:
            print(name.ljust(16) + "  " + r["error"])
            continue
        print(name.ljust(16) + "".join(str(r[k]).rjust(max(len(k), 10) + 2) for k in keys))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
