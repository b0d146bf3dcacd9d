"""Results → a text table (stdout) and a Markdown table (bench/RESULTS.md)."""

from __future__ import annotations

from typing import Any

Row = tuple[str, dict[str, Any], str, bool | None]
COLS = ["direct", "ccm", "ccm_openai", "floor", "litellm", "litellm_openai", "ccr"]
HEAD = {"direct": "direct", "ccm": "ccm-tui", "ccm_openai": "ccm-tui→openai", "floor": "Quart+httpx floor", "litellm": "LiteLLM",
        "litellm_openai": "LiteLLM→openai", "ccr": "ccr"}
PEER_METRIC_LABELS = {
    "nonstream_p50": "non-stream p50", "nonstream_p99": "non-stream p99", "claude_code_body_p50": "real body p50",
    "first_byte_p50": "first SSE byte p50", "first_byte_p99": "first SSE byte p99",
    "stream_events_per_s": "stream events/s", "stream_chunks_per_cpu_s": "chunks per proxy CPU-s",
    "concurrent_wall_s": "concurrent streams wall s"}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _col(section: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: (data.get(key) if isinstance(data, dict) else None) for name, data in section.items()}


def rows(r: dict[str, Any]) -> list[Row]:
    h = r["headline"]
    out: list[Row] = []
    for label, key in (("non-stream p50 ms", "p50"), ("non-stream p95 ms", "p95"), ("non-stream p99 ms", "p99")):
        out.append((label, _col(r["nonstream"], key), "", None))
    out.append(("non-stream added p50 ms", {"ccm": h["nonstream_added_p50_ms"],
                                            "floor": h["nonstream_floor_added_p50_ms"]},
                "≤ 1", h["nonstream_added_p50_ms"] <= 1))
    out.append(("non-stream ccm-tui over the floor p50 ms", {"ccm": h["nonstream_over_floor_p50_ms"]}, "", None))
    out.append(("non-stream ratio p50", {"ccm": h["nonstream_ratio_p50"]}, "", None))
    out.append(("proxy CPU µs per non-stream request", {"ccm": r.get("proxy_cpu_us_per_request")}, "", None))
    if "nonstream_claude_code_body" in r:
        out.append(("real Claude Code body (26 KB) p50 ms", _col(r["nonstream_claude_code_body"], "p50"), "", None))
    out.append(("first SSE byte p50 ms", _col(r["first_byte"], "p50"), "", None))
    out.append(("first SSE byte p99 ms", _col(r["first_byte"], "p99"), "", None))
    out.append(("first byte added p50 ms", {"ccm": h["first_byte_added_p50_ms"],
                                            "ccm_openai": h.get("first_byte_openai_added_p50_ms")},
                "≤ 2", h["first_byte_added_p50_ms"] <= 2))
    tp = r["throughput"]
    out.append(("stream e2e events/s (client)", _col(tp, "events_per_s"), "", None))
    out.append(("stream e2e upstream chunks per proxy CPU-s", _col(tp, "chunks_per_cpu_s"), "", None))
    rate = h["translate_chunks_per_s_core"]
    out.append(("translate chunks/s/core (decode+json+translate+encode)", {"ccm_openai": rate}, "≥ 50k",
                None if rate is None else rate >= 50_000))
    mic = r["micro"]["openai_translate"]
    out.append(("translator alone chunks/s/core", {"ccm_openai": mic.get("translator_chunks_per_s")}, "", None))
    if mic.get("pipeline_orjson_loads_chunks_per_s"):
        out.append(("… with orjson.loads chunks/s/core", {"ccm_openai": mic["pipeline_orjson_loads_chunks_per_s"]},
                    "", None))
    conc = r["concurrent"]
    n = r["params"]["streams"]
    out.append((f"{n} concurrent streams: errors", _col(conc, "errors"), "0", h["concurrent_errors"] == 0))
    out.append((f"{n} concurrent streams: wall s", _col(conc, "wall_s"), "", None))
    out.append((f"{n} concurrent streams: stream p99 ms",
                {k: v.get("stream_ms", {}).get("p99") for k, v in conc.items()}, "", None))
    out.append(("proxy RSS idle MB", {"ccm": r["rss_idle_mb"].get("VmRSS")}, "", None))
    out.append(("proxy RSS serving MB (VmRSS / peak VmHWM)",
                {"ccm": f"{r['rss_serving_mb'].get('VmRSS')} / {r['rss_serving_mb'].get('VmHWM')}"},
                "< 80", (h["rss_serving_mb"] or 1e9) < 80))
    writer = r.get("rss_history_writer_mb") or {}
    if writer:
        out.append(("history writer process RSS MB (VmRSS / peak VmHWM)",
                    {"ccm": f"{writer.get('VmRSS')} / {writer.get('VmHWM')}"}, "", None))
    st = r["startup"]
    ready = {"ccm": st["first_request_s"]}
    for name, peer in (r.get("peers") or {}).items():
        if isinstance(peer, dict):
            ready[name] = peer.get("startup_s")
    out.append(("start-up to first answered request s", ready, "< 0.5", st["first_request_s"] < 0.5))
    return out


def _columns(r: dict[str, Any]) -> list[str]:
    present = {k for _, vals, _, _ in rows(r) for k, v in vals.items() if v is not None}
    return [c for c in COLS if c in present]


def _grid(r: dict[str, Any]) -> list[list[str]]:
    cols = _columns(r)
    grid = [["metric"] + [HEAD[c] for c in cols] + ["target", "met"]]
    for label, vals, target, ok in rows(r):
        met = "" if ok is None else ("yes" if ok else "NO")
        grid.append([label] + [_fmt(vals.get(c)) for c in cols] + [target, met])
    return grid


def _peers_line(r: dict[str, Any]) -> str:
    parts = [f"{name}: {v if isinstance(v, str) else 'measured'}" for name, v in (r.get("peers") or {}).items()]
    return "peers: " + ("; ".join(parts) or "none detected")


def _peer_grid(r: dict[str, Any]) -> list[list[str]]:
    """Ratios per peer target: peer / direct and ccm-tui / peer (ccm-tui's target doing the same work)."""
    ratios = r.get("peer_ratios") or {}
    if not ratios:
        return []
    head = ["ratio"]
    for name, entry in ratios.items():
        head += [f"{HEAD[name]} / direct", f"{HEAD[entry['ccm_target']]} / {HEAD[name]}"]
    grid = [head]
    for key, label in PEER_METRIC_LABELS.items():
        row = [label]
        for entry in ratios.values():
            row += [_fmt(entry[key]["peer_over_direct"]), _fmt(entry[key]["ccm_over_peer"])]
        grid.append(row)
    return grid


def _text(grid: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in grid]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def _md(grid: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(grid[0]) + " |", "|" + "|".join(["---"] + ["---:"] * (len(grid[0]) - 1)) + "|"]
            + ["| " + " | ".join(row) + " |" for row in grid[1:]])


def _load(m: dict[str, Any]) -> str:
    end = m.get("loadavg_at_end")
    return f"{m['loadavg_at_start']}" + ("" if end is None else f" → {end}")


def table(r: dict[str, Any]) -> str:
    lines = _text(_grid(r))
    peer = _peer_grid(r)
    if peer:
        lines += ["", "peers (latency and wall-time ratios < 1 are faster for the numerator; rates the other way):"]
        lines += _text(peer)
    m = r["machine"]
    lines.append("")
    lines.append(f"{m['date']} · {m['nproc']} CPUs · {m['cpu']} · Python {m['python']} · load {_load(m)}"
                 + (" · QUICK (tiny counts, not a measurement)" if r["params"].get("quick") else ""))
    lines.append(_peers_line(r))
    lines += [f"note: {n}" for n in r["notes"]]
    return "\n".join(lines)


def markdown(r: dict[str, Any]) -> str:
    grid = _grid(r)
    m, p = r["machine"], r["params"]
    out = [
        "# Benchmark results",
        "",
        f"Measured {m['date']} on {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}; "
        f"1-minute load average {_load(m)} (start → end).",
        f"`python bench/run.py --write-results`: {p['n']} sequential non-stream requests per target after "
        f"{p['warmup']} warm-up, {p['n_ttfb']} streams for first byte, {p['chunks']:,}-chunk streams for throughput, "
        f"{p['streams']} concurrent streams. Direct = the same client straight to the fake upstream; "
        "ccm-tui = through `ccm-tui serve` (Anthropic passthrough); ccm-tui→openai = translated to OpenAI Chat "
        "Completions and back; Quart+httpx floor = bench/floor_app.py, a bare Quart/Hypercorn app relaying with one "
        "httpx.AsyncClient (no auth, validation, routing or records): the stack's own cost. Client, proxy and "
        "upstream share the machine's cores.",
        "",
        *_md(grid),
    ]
    peer = _peer_grid(r)
    if peer:
        out += ["", "Peers in the same run: each ratio's numerator over its denominator (latency and wall time: "
                "below 1 is faster; events/s and chunks per CPU-s: above 1 is more).", "", *_md(peer)]
    out += ["", _peers_line(r)]
    out += [f"- note: {n}" for n in r["notes"]]
    return "\n".join(out + _extra_sections(r)) + "\n"


def _extra_sections(r: dict[str, Any]) -> list[str]:
    """bench/variants.py, tui_events.py and streams1000.py results, when run.py found them beside its own."""
    out: list[str] = []
    variants = r.get("variants")
    if variants:
        keys = list(next(v for v in variants.values() if "error" not in v))
        out += ["", "## Speed-ups tried (`python bench/variants.py`)", "",
                "Same fake upstream, a fresh `serve` per variant (bench/launch.py; orjson as a global json shim, "
                "an upper bound). Added = proxy minus direct, p50 ms.", "",
                "| variant | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
        out += [f"| {name} | " + " | ".join(_fmt(v.get(k)) for k in keys) + " |" for name, v in variants.items()]
    tui = r.get("tui")
    if tui:
        out += ["", "## TUI under load (`python bench/tui_events.py`)", "",
                f"{tui['records']} request records at {tui['rate_records_per_s']:.0f}/s "
                f"({tui['bus_events_per_s']:.0f} bus events/s) pushed at the real app (headless pilot, no claude "
                f"pane); the app coalesces updates every {tui['flush_interval_ms']:.0f} ms by design. "
                f"App process CPU {tui['cpu_percent']}% of one core.", "",
                "| ms | p50 | p95 | p99 |", "|---|---:|---:|---:|"]
        for key, label in (("publish_to_painted_ms", "published → painted"), ("ingest_ms", "ingest per batch"),
                           ("loop_lag_ms", "UI loop lag (10 ms timer)")):
            s = tui[key]
            out.append(f"| {label} | {_fmt(s['p50'])} | {_fmt(s['p95'])} | {_fmt(s['p99'])} |")
    if r.get("streams1000"):
        out += streams_section(r["streams1000"])
    return out


def streams_section(s: dict[str, Any]) -> list[str]:
    """bench/streams1000.py: one row per round, first byte direct vs through the proxy."""
    idle = s["other_route_idle"]["first_byte_ms"]
    out = ["", f"## {s['streams']} concurrent streams through one provider (`python bench/streams1000.py`)", "",
           f"Measured {s['date']} on {s['nproc']} CPUs. Each round opens {s['streams']} streams at once "
           f"(`{s['shape']}`), first straight at fake upstream A, then through `ccm-tui serve` to provider `a`; "
           "meanwhile a probe streams one request at a time through provider `b` (another route, its own "
           f"upstream; idle p50 {_fmt(idle['p50'])} ms). Proxy RSS idle / peak "
           f"{_fmt(s['rss_idle_mb'].get('VmHWM'))} / {_fmt(s['rss_serving_mb'].get('VmHWM'))} MB.", "",
           "| round | load 1m | direct first byte p50 / p99 ms | ccm-tui p50 / p99 ms | p99 ratio | errors "
           "direct / ccm-tui | proxy CPU s | other route p50 / p99 ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for i, e in enumerate(s["rounds"], 1):
        d, p, o = e["direct"], e["proxy"], e["other_route_during_proxy"]["first_byte_ms"]
        out.append(f"| {i} | {_fmt(e['loadavg_1m_before'])} | {_fmt(d['first_byte_ms']['p50'])} / "
                   f"{_fmt(d['first_byte_ms']['p99'])} | {_fmt(p['first_byte_ms']['p50'])} / "
                   f"{_fmt(p['first_byte_ms']['p99'])} | {_fmt(e['ratio_p99'])} | {d['errors']} / {p['errors']} | "
                   f"{_fmt(e['proxy_cpu_s'])} | {_fmt(o['p50'])} / {_fmt(o['p99'])} |")
    return out
