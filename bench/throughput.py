"""Throughput and proxy CPU per request under concurrency: direct vs ``ccm-tui serve`` (and peers).

    python bench/throughput.py [--conns 16,64] [--seconds 3] [--rounds 3] [--workers N]

A lean load generator (raw asyncio sockets, pre-rendered requests, keep-alive) keeps C connections
busy for a fixed time per target; targets are interleaved round by round so load drift hits all
alike. Per target: requests/s and, for a proxy, its CPU time (all its processes, /proc) per
answered request. Run a copy of this file inside another checkout to measure that checkout. Prints a
table and writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402
from measure import Target  # noqa: E402
from procs import (  # noqa: E402
    BENCH,
    TOKEN,
    start_fake,
    start_serve,
    tree_cpu_seconds,
    workdir,
    write_config,
)


def request_bytes(target: Target, stream: bool) -> bytes:
    body = target.body("bench-c8", stream)
    host = target.base_url.split("//", 1)[1]
    head = ["POST /v1/messages HTTP/1.1", f"host: {host}", "content-type: application/json",
            f"content-length: {len(body)}", *(f"{k}: {v}" for k, v in target.headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"content-length:" in lower:
        await reader.readexactly(int(lower.split(b"content-length:")[1].split(b"\r\n")[0]))
    else:  # chunked
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def load(target: Target, conns: int, seconds: float, stream: bool) -> dict[str, Any]:
    raw = request_bytes(target, stream)
    host, port = target.base_url.split("//", 1)[1].split(":")
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop:
                writer.write(raw)
                if await _read_answer(reader) == 200:
                    done += 1
                else:
                    errors += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    results = await asyncio.gather(*(worker() for _ in range(conns)), return_exceptions=True)
    elapsed = time.perf_counter() - t0
    errors += sum(isinstance(r, BaseException) for r in results)
    return {"requests": done, "errors": errors, "seconds": elapsed}


def run(args: argparse.Namespace) -> dict[str, Any]:
    wd = workdir()
    fake = start_fake(wd, uvloop=True)
    children = [fake]
    try:
        config = write_config(wd, fake.base_url)
        if args.config_extra:  # e.g. "[history]\nenabled = false" to see what one feature costs
            config.write_text(config.read_text() + "\n" + args.config_extra.replace("\\n", "\n") + "\n")
        extra = ("--workers", args.workers) if args.workers else ()
        serve = start_serve(wd, config, extra=extra)
        children.append(serve)
        headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
        targets = [(Target("direct", fake.base_url, {"x-api-key": "k", "anthropic-version": "2023-06-01"}), None),
                   (Target("ccm", serve.base_url, headers, "anthropic,"), serve.proc.pid),
                   (Target("ccm_openai", serve.base_url, headers, "oai,"), serve.proc.pid)]
        names = [n for n in args.peers.split(",") if n]
        started, peer_targets, status = peers.start(names, wd, fake.base_url)
        children += started
        targets += peer_targets
        out: dict[str, Any] = {"load_1m_start": os.getloadavg()[0], "peers": status, "rows": []}
        for conns in [int(c) for c in args.conns.split(",")]:
            for stream in (False, True):
                per: dict[str, list[dict[str, float]]] = {t.name: [] for t, _ in targets}
                for target, _pid in targets:  # warm-up
                    asyncio.run(load(target, conns, 0.5, stream))
                for _ in range(args.rounds):
                    for target, pid in targets:
                        cpu0 = tree_cpu_seconds(pid) if pid else 0.0
                        r = asyncio.run(load(target, conns, args.seconds, stream))
                        cpu = tree_cpu_seconds(pid) - cpu0 if pid else None
                        per[target.name].append({
                            "rps": r["requests"] / r["seconds"], "errors": r["errors"],
                            "cpu_ms": (cpu * 1000 / r["requests"]) if cpu is not None and r["requests"] else None})
                for name, rounds in per.items():
                    cpus = [x["cpu_ms"] for x in rounds if x["cpu_ms"] is not None]
                    out["rows"].append({"conns": conns, "stream": stream, "target": name,
                                        "rps": round(statistics.median(x["rps"] for x in rounds), 1),
                                        "cpu_ms_per_request": round(statistics.median(cpus), 3) if cpus else None,
                                        "errors": sum(x["errors"] for x in rounds)})
        out["load_1m_end"] = os.getloadavg()[0]
        add_ratios(out["rows"])
        return out
    finally:
        for child in reversed(children):
            child.stop()


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Per row: req/s over direct's; for a peer also ccm-tui's req/s (same work) over the peer's."""
    rps = {(r["conns"], r["stream"], r["target"]): r["rps"] for r in rows}
    for r in rows:
        key = (r["conns"], r["stream"])
        r["ratio_vs_direct"] = round(r["rps"] / rps[(*key, "direct")], 3) if rps[(*key, "direct")] else None
        same = peers.SAME_WORK.get(r["target"])
        if same and r["rps"]:
            r["ccm_vs_peer"] = round(rps[(*key, same)] / r["rps"], 3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conns", default="16,64")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="")
    parser.add_argument("--peers", default="ccr,litellm", help="peers to add when installed ('' for none)")
    parser.add_argument("--config-extra", default="", help="TOML appended to serve's config (\\n for newlines)")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "throughput.json")
    args = parser.parse_args()
    out = run(args)
    print(f"load average 1m: {out['load_1m_start']:.2f} → {out['load_1m_end']:.2f}")
    for name, status in out["peers"].items():
        note = status if isinstance(status, str) else f"answered {status['startup_s']} s after start"
        print(f"peer {name}: {note}")
    print(f"{'conns':>5} {'kind':>10} {'target':>14} {'req/s':>9} {'ratio':>6} {'ccm/peer':>8} {'CPU ms/req':>10} "
          f"{'errors':>6}")
    for r in out["rows"]:
        cpu = "-" if r["cpu_ms_per_request"] is None else f"{r['cpu_ms_per_request']:.3f}"
        vs_peer = f"{r['ccm_vs_peer']:.2f}" if "ccm_vs_peer" in r else "-"
        print(f"{r['conns']:>5} {'stream' if r['stream'] else 'non-stream':>10} {r['target']:>14} "
              f"{r['rps']:>9.1f} {r['ratio_vs_direct']:>6.2f} {vs_peer:>8} {cpu:>10} {r['errors']:>6}")
    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
