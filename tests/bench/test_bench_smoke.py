"""Smoke test for bench/run.py --quick: it runs end to end and reports every metric (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_reports_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "non-stream added p50 ms" in proc.stdout
    r = json.loads(out.read_text())

    for target in ("direct", "ccm", "floor"):
        for section in ("nonstream", "nonstream_claude_code_body", "first_byte"):
            stats = r[section][target]
            assert stats["errors"] == 0 and stats["n"] > 0, (section, target, stats)
            assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"], (section, target, stats)
        assert r["throughput"][target]["complete"] is True, r["throughput"][target]
        assert r["throughput"][target]["events"] > r["params"]["chunks"]
    for name, conc in r["concurrent"].items():
        assert conc["errors"] == 0, (name, conc)
        assert conc["stream_ms"]["n"] == r["params"]["streams"]
    assert r["throughput"]["ccm"]["proxy_cpu_s"] >= 0
    assert r["rss_serving_mb"]["VmRSS"] > 0 and r["rss_serving_mb"]["VmHWM"] >= r["rss_serving_mb"]["VmRSS"]
    assert 0 < r["startup"]["url_line_s"] <= r["startup"]["first_request_s"] < 30
    assert r["peers"] == {"litellm": "not run (pass --peers)", "ccr": "not run (pass --peers)"}
    assert r["peer_ratios"] == {} and "peers: litellm: not run (pass --peers)" in proc.stdout

    h = r["headline"]
    for key in ("nonstream_added_p50_ms", "nonstream_ratio_p50", "first_byte_added_p50_ms", "concurrent_errors",
                "rss_serving_mb", "ready_s", "nonstream_over_floor_p50_ms", "translate_chunks_per_s_core", "e2e_translated_chunks_per_cpu_s"):
        assert key in h, key
    assert h["concurrent_errors"] == 0
    translate = r["micro"]["openai_translate"]
    if "skipped" not in translate:  # the OpenAI provider is optional for the smoke test, not for the table
        assert translate["pipeline_chunks_per_s"] > 0 and translate["translator_chunks_per_s"] > 0
        assert r["throughput"]["ccm_openai"]["complete"] is True
    assert r["micro"]["anthropic_decode"]["decode_events_per_s"] > 0


def test_tui_events_bench_paints_every_record(tmp_path: Path) -> None:
    out = tmp_path / "tui.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "tui_events.py"), "--rate", "50", "--seconds", "1",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["records"] == 50 and r["records_seen_by_app"] == 50 and r["painted"] == 50
    for key in ("publish_to_painted_ms", "ingest_ms", "loop_lag_ms"):
        assert r[key]["n"] > 0 and r[key]["p50"] >= 0, key


def test_encode_event_speed_up_keeps_the_bytes() -> None:
    """ccm_tui.sse.encode_event uses one shared encoder (a bench finding): output must not change."""
    from ccm_tui.sse import encode_event

    cases = [{"type": "ping"}, {"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": "héllo \u2028 \"q\" \n 🙂"}},
             {"type": "message_delta", "usage": {"output_tokens": 3, "x": 1.5, "n": None, "ok": True}},
             {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "input": {}}}]
    for data in cases:
        expected = f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        assert encode_event(data["type"], data) == expected


def test_streams1000_bench_runs_small(tmp_path: Path) -> None:
    """bench/streams1000.py end to end with a few streams: every stream answered, every figure present."""
    out = tmp_path / "streams.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "streams1000.py"), "--streams", "20", "--rounds", "1",
                           "--shape", "bench-c4-d20", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    (entry,) = r["rounds"]
    for side in ("direct", "proxy"):
        assert entry[side]["errors"] == 0 and entry[side]["first_byte_ms"]["n"] == 20, entry[side]
    assert r["other_route_idle"]["errors"] == 0 and entry["other_route_during_proxy"]["errors"] == 0
    assert entry["ratio_p99"] > 0 and r["rss_serving_mb"]["VmHWM"] > 0
