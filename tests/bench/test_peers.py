"""bench peers: one not installed is a note, ratios compare like with like, a stream cut short gets no rates."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench_modules(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("peers"), importlib.import_module("run"), importlib.import_module("report")


def test_peers_not_on_path_are_noted_not_started(bench_modules, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    peers, _, _ = bench_modules
    monkeypatch.setenv("PATH", str(tmp_path))
    children, targets, status = peers.start(peers.NAMES, tmp_path, "http://127.0.0.1:9")
    assert children == [] and targets == []
    assert status == {"litellm": "not installed", "ccr": "not installed"}


def test_peer_ratios_compare_each_peer_with_direct_and_the_same_work(bench_modules) -> None:  # type: ignore[no-untyped-def]
    _, run, report = bench_modules
    lat = {"direct": {"p50": 1.0, "p99": 2.0}, "ccm": {"p50": 2.0, "p99": 4.0}, "ccm_openai": {"p50": 3.0, "p99": 6.0},
           "litellm": {"p50": 8.0, "p99": 16.0}, "ccr": {"p50": 6.0, "p99": 12.0}}
    rates = {"direct": {"events_per_s": 1000}, "ccm": {"events_per_s": 800, "chunks_per_cpu_s": 400},
             "ccm_openai": {"events_per_s": 600, "chunks_per_cpu_s": 300},
             "litellm": {"events_per_s": 200, "chunks_per_cpu_s": 100}, "ccr": {"error": "HTTP 500"}}
    r = {"nonstream": lat, "first_byte": lat, "throughput": rates,
         "concurrent": {"direct": {"wall_s": 1.0}, "ccm": {"wall_s": 1.0}, "ccm_openai": {"wall_s": 1.5},
                        "litellm": {"wall_s": 3.0}, "ccr": {"errors": 16}}}
    ratios = run.peer_ratios(r)
    assert set(ratios) == {"litellm", "ccr"}  # litellm_openai did not run
    assert ratios["litellm"]["ccm_target"] == "ccm" and ratios["ccr"]["ccm_target"] == "ccm_openai"
    assert ratios["litellm"]["nonstream_p50"] == {"peer_over_direct": 8.0, "ccm_over_peer": 0.25}
    assert ratios["ccr"]["first_byte_p99"] == {"peer_over_direct": 6.0, "ccm_over_peer": 0.5}
    assert ratios["litellm"]["stream_chunks_per_cpu_s"] == {"peer_over_direct": None, "ccm_over_peer": 4.0}
    assert ratios["ccr"]["stream_events_per_s"] == {"peer_over_direct": None, "ccm_over_peer": None}
    assert ratios["ccr"]["claude_code_body_p50"] == {"peer_over_direct": None, "ccm_over_peer": None}
    grid = report._peer_grid({"peer_ratios": ratios})
    assert grid[0] == ["ratio", "LiteLLM / direct", "ccm-tui / LiteLLM", "ccr / direct", "ccm-tui→openai / ccr"]
    assert ["non-stream p50", "8.000", "0.250", "6.000", "0.500"] in grid


def test_a_stream_cut_short_gets_no_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy that ends the stream early (LiteLLM's repeated-chunk guard did) must not look fast."""
    import http.server
    import threading

    monkeypatch.syspath_prepend(str(BENCH))
    measure = importlib.import_module("measure")

    class CutShort(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["content-length"]))
            body = b'event: ping\ndata: {"type":"ping"}\n\n' * 3
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShort)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = measure.Target("cut", f"http://127.0.0.1:{server.server_address[1]}", {})
        out = measure.stream_throughput(target, 1000, timeout=10.0)
    finally:
        server.shutdown()
        server.server_close()
    assert out["complete"] is False and "without message_stop" in out["error"]
    assert "events_per_s" not in out and "chunks_per_cpu_s" not in out
