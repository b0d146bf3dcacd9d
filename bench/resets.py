"""256 concurrent streams (two bursts back to back), 5 rounds, through an upstream that resets kept-alive connections.

    python bench/resets.py [--streams 256] [--rounds 5] [--reset-after 1]

The fake upstream (``--reset-after N``) resets each connection when a request arrives after its
N-th answer, without answering: what a client sees when an upstream drops idle keep-alive
connections. Direct (httpx, no retries) shows the upstream is hostile; through ``ccm-tui serve``
(and claude-code-router when installed) the errors must be 0. Writes bench/results/resets.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402
from measure import Target, concurrent_streams  # noqa: E402
from procs import BENCH, TOKEN, rss, start_fake, start_serve, workdir, write_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reset-after", type=int, default=1)
    parser.add_argument("--peers", default="ccr")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "resets.json")
    args = parser.parse_args()
    wd = workdir()
    fake = start_fake(wd, uvloop=True, reset_after=args.reset_after)
    children = [fake]
    out: dict = {"load_1m_start": os.getloadavg()[0], "rounds": []}
    try:
        serve = start_serve(wd, write_config(wd, fake.base_url))
        children.append(serve)
        # as Claude Code sends it: the proxy then leaves retrying 5xx to the client, so what it does not absorb shows
        headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01", "x-stainless-retry-count": "0"}
        targets = [Target("direct", fake.base_url, {"x-api-key": "k"}),
                   Target("ccm", serve.base_url, headers, "anthropic,"),
                   Target("ccm_openai", serve.base_url, headers, "oai,")]
        started, peer_targets, out["peers"] = peers.start([n for n in args.peers.split(",") if n], wd, fake.base_url)
        children += started
        targets += [t for t, _pid in peer_targets]
        for i in range(args.rounds):
            row = {}
            for t in targets:  # two bursts back to back: the second reuses the first's connections upstream
                bursts = [concurrent_streams(t, args.streams, "bench-c20-d5", timeout=120.0) for _ in range(2)]
                row[t.name] = {"errors": sum(b["errors"] for b in bursts),
                               "samples": [s for b in bursts for s in b.get("error_samples", [])][:3],
                               "wall_s": [b.get("wall_s") for b in bursts]}
            out["rounds"].append(row)
            print(f"round {i + 1}: " + ", ".join(f"{k} {v['errors']} errors" for k, v in row.items()), flush=True)
        out["rss_mb"] = rss(serve.proc.pid)
        out["upstream_resets"] = httpx.get(fake.base_url + "/stats").json()["resets"]
    finally:
        for child in reversed(children):
            child.stop()
    out["load_1m_end"] = os.getloadavg()[0]
    print(f"load average 1m {out['load_1m_start']:.2f} → {out['load_1m_end']:.2f}; serve RSS {out.get('rss_mb')}; "
          f"connections the upstream reset: {out.get('upstream_resets')}")
    for name in out["rounds"][0] if out["rounds"] else []:
        print(f"{name}: errors per round {[r[name]['errors'] for r in out['rounds']]}; "
              f"samples {next((r[name]['samples'] for r in out['rounds'] if r[name]['samples']), [])[:2]}")
    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
