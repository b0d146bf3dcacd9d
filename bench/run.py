"""ccm-tui proxy benchmark: direct to a fast fake upstream vs through ``ccm-tui serve`` (and peers).

    python bench/run.py [--quick] [--peers] [--json PATH] [--write-results]

Everything runs on 127.0.0.1 in child processes: the fake upstream (bench/fake_upstream.py),
``python -m ccm_tui serve`` with a generated config, and with ``--peers`` LiteLLM and
claude-code-router when they are on PATH (bench/peers.py), interleaved with the others in the same
run, with ratios peer/direct and ccm-tui/peer. Prints a table, writes JSON (default bench/results/latest.json); ``--write-results``
also rewrites bench/RESULTS.md (the table the README quotes), adding the latest
bench/results/variants.json (bench/variants.py), tui.json (bench/tui_events.py) and streams1000.json
(bench/streams1000.py) if present. Ratios proxy/direct are the
headline: absolute numbers move with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import micro  # noqa: E402
import peers  # noqa: E402
from measure import (  # noqa: E402
    Target,
    concurrent_streams,
    cpu_per_request,
    first_byte,
    nonstream_latency,
    probe,
    stream_throughput,
)
from procs import (  # noqa: E402
    BENCH,
    ROOT,
    TOKEN,
    child_rss,
    cpu_seconds,
    rss,
    start_fake,
    start_floor,
    start_serve,
    tree_cpu_seconds,
    workdir,
    write_config,
)
from report import markdown, table  # noqa: E402

FULL = {"n": 1000, "warmup": 100, "n_cc": 300, "n_ttfb": 300, "chunks": 50_000, "streams": 256, "starts": 5,
        "budget_s": 120.0, "micro_chunks": 20_000, "micro_s": 2.0}
QUICK = {"n": 30, "warmup": 5, "n_cc": 10, "n_ttfb": 10, "chunks": 500, "streams": 16, "starts": 1,
         "budget_s": 10.0, "micro_chunks": 2_000, "micro_s": 0.3}
FIXTURE = ROOT / "tests" / "fixtures" / "claude-code" / "print_mode_main.json"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "nproc": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_at_start": round(os.getloadavg()[0], 2)}


def _claude_code_body() -> dict[str, Any] | None:
    try:
        body = json.loads(FIXTURE.read_text())["body"]
    except (OSError, ValueError, KeyError):
        return None
    return {k: v for k, v in body.items() if k not in ("model", "stream")}


def bench(cfg: dict[str, Any], log) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    results: dict[str, Any] = {"machine": machine(), "params": cfg, "notes": []}
    notes: list[str] = results["notes"]
    work = workdir()
    fake = start_fake(work)
    children = [fake]
    try:
        config = write_config(work, fake.base_url)
        log("start-up ...")
        starts = []
        for i in range(cfg["starts"]):
            child = start_serve(work, config, name=f"serve-start{i}")
            starts.append(child.timings)
            child.stop()
        results["startup"] = {
            "url_line_s": round(statistics.median(s["url_line_s"] for s in starts), 3),
            "first_request_s": round(statistics.median(s["first_request_s"] for s in starts), 3),
            "runs": len(starts),
        }
        serve = start_serve(work, config)
        children.append(serve)
        results["rss_idle_mb"] = rss(serve.proc.pid)

        hdr = {"anthropic-version": "2023-06-01"}
        direct = Target("direct", fake.base_url, {**hdr, "x-api-key": "bench-upstream-key"})
        ccm = Target("ccm", serve.base_url, {**hdr, "x-api-key": TOKEN}, "anthropic,")
        ccm_oai = Target("ccm_openai", serve.base_url, {**hdr, "x-api-key": TOKEN}, "oai,")
        for target in (direct, ccm):
            if why := probe(target):
                raise RuntimeError(f"{target.name} does not answer: {why}")
        translated = probe(ccm_oai)
        if translated:
            notes.append(f"translated path (OpenAI provider) unavailable: {translated}")
        floor_child = start_floor(work, fake.base_url)
        children.append(floor_child)
        floor = Target("floor", floor_child.base_url, {})
        mine = [direct, ccm, floor] + ([] if translated else [ccm_oai])
        peer_targets: list[tuple[Target, int]] = []
        if cfg["peers"]:
            log("starting peers ...")
            started, peer_targets, results["peers"] = peers.start(peers.NAMES, work, fake.base_url)
            children += started
        else:
            results["peers"] = {name: "not run (pass --peers)" for name in peers.NAMES}
        others = [t for t, _pid in peer_targets]
        peer_pids = {t.name: pid for t, pid in peer_targets}
        budget = cfg["budget_s"]
        log(f"non-stream latency, {cfg['n']} sequential requests each ...")
        results["nonstream"] = nonstream_latency(mine + others, cfg["n"], cfg["warmup"], budget)
        results["proxy_cpu_us_per_request"] = cpu_per_request(ccm, cfg["n"], lambda: cpu_seconds(serve.proc.pid),
                                                              budget)
        cc_body = _claude_code_body()
        if cc_body:
            log("non-stream latency, a real Claude Code body ...")
            results["nonstream_claude_code_body"] = nonstream_latency(
                mine + others, cfg["n_cc"], cfg["warmup"], budget, cc_body)
        else:
            notes.append(f"{FIXTURE} missing: real-body latency skipped")
        log("time to first SSE byte ...")
        results["first_byte"] = first_byte(mine + others, cfg["n_ttfb"], cfg["warmup"], budget)
        log("stream throughput end to end ...")
        pid = serve.proc.pid
        through: dict[str, Any] = {"direct": stream_throughput(direct, cfg["chunks"], budget),
                                   "ccm": stream_throughput(ccm, cfg["chunks"], budget, lambda: cpu_seconds(pid))}
        if not translated:
            through["ccm_openai"] = stream_throughput(ccm_oai, cfg["chunks"], budget, lambda: cpu_seconds(pid))
        fpid = floor_child.proc.pid
        through["floor"] = stream_throughput(floor, cfg["chunks"], budget, lambda: cpu_seconds(fpid))
        for target in others:
            ppid = peer_pids[target.name]
            through[target.name] = stream_throughput(target, cfg["chunks"], budget, lambda p=ppid: tree_cpu_seconds(p))
        results["throughput"] = through
        notes += [f"{name} stream throughput: {v['error']}" for name, v in through.items() if "error" in v]
        log(f"{cfg['streams']} concurrent streams ...")
        conc = {t.name: concurrent_streams(t, cfg["streams"], "bench-c20-d5", timeout=budget)
                for t in [direct, ccm] + ([] if translated else [ccm_oai]) + others}
        results["concurrent"] = conc
        notes += [f"{name} concurrent streams: {c['errors']} errors, e.g. {c['error_samples'][:1]}"
                  for name, c in conc.items() if c["errors"]]
        results["rss_serving_mb"] = rss(pid)
        results["rss_history_writer_mb"] = child_rss(pid)  # its own process since #19 (history/process.py)
        log("translator micro-benchmark ...")
        results["micro"] = micro.micro(cfg["micro_chunks"], cfg["micro_s"])
        if "skipped" in results["micro"]["openai_translate"]:
            notes.append(results["micro"]["openai_translate"]["skipped"])
    finally:
        for child in reversed(children):
            child.stop()
    results["machine"]["loadavg_at_end"] = round(os.getloadavg()[0], 2)
    results["headline"] = headline(results)
    results["peer_ratios"] = peer_ratios(results)
    return results


def headline(r: dict[str, Any]) -> dict[str, Any]:
    """The numbers the issue sets targets for, with the proxy/direct ratios."""
    ns, fb = r["nonstream"], r["first_byte"]
    h: dict[str, Any] = {
        "nonstream_added_p50_ms": round(ns["ccm"]["p50"] - ns["direct"]["p50"], 3),
        "nonstream_added_p99_ms": round(ns["ccm"]["p99"] - ns["direct"]["p99"], 3),
        "nonstream_ratio_p50": round(ns["ccm"]["p50"] / ns["direct"]["p50"], 2),
        "nonstream_floor_added_p50_ms": round(ns["floor"]["p50"] - ns["direct"]["p50"], 3),
        "nonstream_over_floor_p50_ms": round(ns["ccm"]["p50"] - ns["floor"]["p50"], 3),
        "first_byte_added_p50_ms": round(fb["ccm"]["p50"] - fb["direct"]["p50"], 3),
        "first_byte_ratio_p50": round(fb["ccm"]["p50"] / fb["direct"]["p50"], 2),
        "concurrent_errors": sum(c["errors"] for k, c in r["concurrent"].items() if k.startswith("ccm")),
        "rss_serving_mb": r["rss_serving_mb"].get("VmHWM"),
        "ready_s": r["startup"]["first_request_s"],
    }
    if "ccm_openai" in fb:
        h["first_byte_openai_added_p50_ms"] = round(fb["ccm_openai"]["p50"] - fb["direct"]["p50"], 3)
    tr = r["micro"]["openai_translate"]
    h["translate_chunks_per_s_core"] = tr.get("pipeline_chunks_per_s")
    e2e = r["throughput"].get("ccm_openai") or {}
    h["e2e_translated_chunks_per_cpu_s"] = e2e.get("chunks_per_cpu_s")
    return h


PEER_METRICS = (  # (key, section, field): lower is better for latencies and wall time, higher for rates
    ("nonstream_p50", "nonstream", "p50"), ("nonstream_p99", "nonstream", "p99"),
    ("claude_code_body_p50", "nonstream_claude_code_body", "p50"),
    ("first_byte_p50", "first_byte", "p50"), ("first_byte_p99", "first_byte", "p99"),
    ("stream_events_per_s", "throughput", "events_per_s"), ("stream_chunks_per_cpu_s", "throughput", "chunks_per_cpu_s"),
    ("concurrent_wall_s", "concurrent", "wall_s"),
)


def peer_ratios(r: dict[str, Any]) -> dict[str, Any]:
    """Per peer target and metric: peer / direct, and ccm-tui / peer for ccm-tui's target doing the same work."""
    out: dict[str, Any] = {}
    for name, same in peers.SAME_WORK.items():
        if name not in r["nonstream"]:
            continue
        entry: dict[str, Any] = {"ccm_target": same}
        for key, section, field in PEER_METRICS:
            values = {t: (r.get(section, {}).get(t) or {}).get(field) for t in ("direct", same, name)}
            peer = values[name]
            entry[key] = {
                "peer_over_direct": round(peer / values["direct"], 3) if peer and values["direct"] else None,
                "ccm_over_peer": round(values[same] / peer, 3) if peer and values[same] else None,
            }
        out[name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test, < 30 s)")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument("--peers", action="store_true",
                        help="also run LiteLLM and claude-code-router when on PATH (skipped with a note otherwise)")
    parser.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL, quick=args.quick, peers=args.peers)

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    results = bench(cfg, log)
    results["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nJSON: {args.json}")
    if args.write_results:
        for key, name in (("variants", "variants.json"), ("tui", "tui.json"), ("streams1000", "streams1000.json")):
            path = args.json.parent / name
            if path.exists():
                results[key] = json.loads(path.read_text())
        (BENCH / "RESULTS.md").write_text(markdown(results))
        print(f"table: {BENCH / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
