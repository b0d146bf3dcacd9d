"""History store write throughput: N writer processes appending to one SQLite file at once.

    python bench/history_writes.py [--writers 1 4 16] [--seconds 10] [--batch 32] [--body-bytes 20000]

Each writer is its own process (as several ``ccm-tui`` processes on one machine would be) and writes
records the way the history writer does: batches in one ``BEGIN IMMEDIATE`` transaction each, with a
compressed body per record. Prints records/s in total and per writer for each N (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccm_tui.flow import Decision, Flow  # noqa: E402
from ccm_tui.history.sqlite import SQLiteStore  # noqa: E402
from ccm_tui.history.store import record_of  # noqa: E402
from ccm_tui.secrets import Redactor  # noqa: E402


def _writer(path: str, name: str, seconds: float, batch: int, body_bytes: int, start: float, out: mp.Queue) -> None:
    store = SQLiteStore(path)
    redactor = Redactor()
    flow = Flow("POST", "/v1/messages", {}, request_bytes=body_bytes,
                request_body={"model": "m", "messages": [{"role": "user", "content": "w" * body_bytes}]})
    flow.decision = Decision("default", "p", "m", "default")
    flow.state, flow.status = "done", 200
    while time.time() < start:
        time.sleep(0.001)
    written, deadline = 0, start + seconds
    while time.time() < deadline:
        store.write([record_of(flow, f"{name}-{written + i}", redactor, bodies=body_bytes > 0) for i in range(batch)])
        written += batch
    store.close()
    out.put(written)


def run(writers: int, seconds: float, batch: int, body_bytes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "history.sqlite3")
        SQLiteStore(path).close()  # migrate once, outside the timing
        out: mp.Queue = mp.Queue()
        start = time.time() + 1.0
        procs = [mp.Process(target=_writer, args=(path, f"w{i}", seconds, batch, body_bytes, start, out))
                 for i in range(writers)]
        for p in procs:
            p.start()
        total = sum(out.get(timeout=seconds + 120) for _ in procs)
        for p in procs:
            p.join(30)
    rate = total / seconds
    return {"writers": writers, "records_per_s": round(rate), "per_writer": round(rate / writers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--body-bytes", type=int, default=20_000)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, batch {args.batch}, body {args.body_bytes} B")
    for n in args.writers:
        print(json.dumps(run(n, args.seconds, args.batch, args.body_bytes)), flush=True)


if __name__ == "__main__":
    main()
