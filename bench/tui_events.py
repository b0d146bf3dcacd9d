"""TUI under load: request records pushed at the real app (headless pilot) at a steady rate.

    python bench/tui_events.py [--rate 100] [--seconds 10] [--json PATH]

A thread plays the proxy: each request record goes CREATED → ROUTED → FIRST_BYTE → FINISHED on
the app's event bus (4 bus events per record), ``--rate`` records per second, with real-looking
usage. No claude pane (claude_argv=None), no upstream: only the dashboard's work is measured.

Reported:
* publish → painted: FINISHED published until the frame after the app ingested that flow
  (the app coalesces on purpose, ``FLUSH_INTERVAL``; this shows what a user waits).
* ingest ms: the app's update of store and panes per batch (UI thread time).
* loop lag: how late a 10 ms timer on the UI loop fires (what a key press waits, roughly).
* (the pilot presses ``down`` every 50 ms meanwhile, as a user scrolling would; ``pilot.press``
  waits for the app to go idle, so its duration is not reported as a latency.)
* CPU: process CPU time / wall time during the burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import summary  # noqa: E402

SIZE = (160, 45)
CONFIG = """\
[providers.anthropic]
type = "anthropic"
base_url = "http://127.0.0.1:9"
api_key = "bench-upstream-key"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
background = "anthropic,claude-haiku-4-5"
"""


def _publisher(bus: Any, rate: float, seconds: float, published: dict[int, float], stop: threading.Event) -> None:
    from ccm_tui.events import FlowEvent
    from ccm_tui.flow import Decision, Flow

    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        if stop.is_set():
            break
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        flow = Flow("POST", "/v1/messages", {}, kind="messages")
        flow.requested_model = "claude-sonnet-4-5"
        flow.stream = True
        flow.decision = Decision("default" if i % 4 else "background", "anthropic",
                                 "claude-sonnet-4-5" if i % 4 else "claude-haiku-4-5", "bench")
        bus.publish(FlowEvent.CREATED, flow)
        bus.publish(FlowEvent.ROUTED, flow)
        flow.mark_first_byte()
        bus.publish(FlowEvent.FIRST_BYTE, flow)
        flow.usage.input_tokens, flow.usage.output_tokens = 1200 + i, 40 + i % 50
        flow.status, flow.state, flow.duration_ms = 200, "done", 35.0 + i % 20
        published[flow.id] = time.perf_counter()
        bus.publish(FlowEvent.FINISHED, flow)


async def _run(rate: float, seconds: float) -> dict[str, Any]:
    from ccm_tui.config import load_config
    from ccm_tui.events import EventBus
    from ccm_tui.proxy.server import ProxyServer
    from ccm_tui.tui.app import FLUSH_INTERVAL, CcmApp

    work = Path(tempfile.mkdtemp(prefix="ccm-tui-bench-"))
    (work / "config.toml").write_text(CONFIG)
    server = ProxyServer(load_config(work / "config.toml"), EventBus(), host="127.0.0.1", port=0)
    app = CcmApp(server, None, {}, exit_grace=0)

    published: dict[int, float] = {}
    painted: list[float] = []
    ingest_ms: list[float] = []
    lags: list[float] = []
    original = app.ingest

    def ingest(flows: Any) -> None:
        flows = list(flows)
        t0 = time.perf_counter()
        original(flows)
        ingest_ms.append((time.perf_counter() - t0) * 1000)
        done = [published[f.id] for f in flows if f.state == "done" and f.id in published]

        def mark() -> None:
            now = time.perf_counter()
            painted.extend((now - t) * 1000 for t in done)

        app.call_after_refresh(mark)

    app.ingest = ingest  # type: ignore[method-assign]
    stop = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        expected = [time.perf_counter() + 0.01]

        def tick() -> None:
            now = time.perf_counter()
            lags.append(max(0.0, (now - expected[0]) * 1000))
            expected[0] = now + 0.01

        timer = app.set_interval(0.01, tick)
        thread = threading.Thread(target=_publisher, args=(server.bus, rate, seconds, published, stop), daemon=True)
        c0, t0 = time.process_time(), time.perf_counter()
        thread.start()
        deadline = t0 + seconds + 10
        while thread.is_alive() and time.perf_counter() < deadline:
            await pilot.press("down")
            await asyncio.sleep(0.05)
        stop.set()
        thread.join(5)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        settle = time.perf_counter() + 5
        while len(painted) < len(published) and time.perf_counter() < settle:
            await pilot.pause(0.05)
        timer.stop()
        seen = app.store.seen
    server._sock.close()  # never served: release the socket it bound
    return {
        "rate_records_per_s": rate, "bus_events_per_s": rate * 4, "seconds": seconds,
        "records": len(published), "records_seen_by_app": seen, "painted": len(painted),
        "flush_interval_ms": FLUSH_INTERVAL * 1000,
        "publish_to_painted_ms": summary(painted), "ingest_ms": summary(ingest_ms),
        "loop_lag_ms": {**summary(lags), "max": round(max(lags, default=0.0), 3)},
        "cpu_percent": round(100 * cpu / wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="request records per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "tui.json")
    args = parser.parse_args(argv)
    try:
        import ccm_tui.tui.app  # noqa: F401
    except ImportError as exc:
        print(f"TUI not importable, nothing measured: {exc}")
        return 1
    r = asyncio.run(_run(min(args.rate, 2000.0), min(args.seconds, 120.0)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(r, indent=2) + "\n")
    print(f"{r['records']} records at {r['rate_records_per_s']:.0f}/s ({r['bus_events_per_s']:.0f} bus events/s) "
          f"for {r['seconds']} s; app saw {r['records_seen_by_app']}, painted {r['painted']}")
    for key in ("publish_to_painted_ms", "ingest_ms", "loop_lag_ms"):
        s = r[key]
        print(f"  {key:<22} p50 {s['p50']:8.2f}  p95 {s['p95']:8.2f}  p99 {s['p99']:8.2f}  (n={s['n']})")
    print(f"  UI coalescing interval {r['flush_interval_ms']:.0f} ms; process CPU {r['cpu_percent']}% of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
