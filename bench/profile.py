"""Where ``ccm-tui serve`` spends its CPU per request: py-spy over a throughput run, by component.

    python bench/profile.py [--provider anthropic|oai] [--stream] [--conns 16] [--seconds 8]

Starts the fake upstream and ``serve`` (bench/procs.py), keeps ``--conns`` keep-alive connections
busy (bench/throughput.py's load generator) and samples ``serve`` with ``py-spy record --gil``
(only a thread holding the interpreter counts: CPU, not waits). Prints CPU ms per request, the
share of samples per component (each sample goes to the most specific component on its stack),
then the functions with the most samples of their own. py-spy is not a
dependency: ``pip install py-spy``; without it the script says so and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Target  # noqa: E402
from procs import TOKEN, cpu_seconds, start_fake, start_serve, workdir, write_config  # noqa: E402
from throughput import load  # noqa: E402

#: (label, substring of a frame), most specific first: a sample counts for the first component
#: found anywhere on its stack, so the shares add up to 100 %.
COMPONENTS = [
    ("history: snapshots handed to the writer process", "HistoryWriter"),
    ("bus: views, printer, history queue", "publish ("),
    ("OpenAI translation: request, answer, stream", "providers/openai/"),
    ("httpx: request/response models", "httpx/"),
    ("ccm-tui HTTP/1.1 transport to the upstream", "providers/transport.py"),
    ("provider: headers, reading and parsing the answer", "providers/"),
    ("request body: parse and validate", "_start ("),
    ("routing decision", "_route ("),
    *(("fallbacks, budget, auth, flow records, relay", f"ccm_tui/proxy/{name}.py")
      for name in ("attempts", "budget", "state", "pipeline", "app")),
    ("Quart: request/response objects, context, routing", "quart/"),
    ("Hypercorn: HTTP/1.1 parsing and writing (h11)", "hypercorn/"),
    ("event loop: selectors, callbacks, tasks", "asyncio/"),
]


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen([shutil.which("py-spy") or "py-spy", "record", "-p", str(pid), "-d", str(int(seconds + 0.999)),
                             "-r", "500", "-f", "raw", "-o", str(out), "--gil", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(raw: Path) -> tuple[int, dict[str, int], collections.Counter[str]]:
    total = 0
    shares = dict.fromkeys([*dict.fromkeys(label for label, _ in COMPONENTS), "other"], 0)
    own: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():  # a frame name py-spy wrapped onto a line of its own
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        label = next((label for label, needle in COMPONENTS if any(needle in f for f in frames)), "other")
        shares[label] += n
    return total, shares, own


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", default="anthropic", choices=("anthropic", "oai"))
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        print("py-spy is not installed (pip install py-spy): nothing to profile")
        return 1
    wd = workdir()
    fake = start_fake(wd, uvloop=True)
    serve = start_serve(wd, write_config(wd, fake.base_url))
    try:
        target = Target("ccm", serve.base_url, {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"},
                        f"{args.provider},")
        asyncio.run(load(target, args.conns, 1.0, args.stream))  # warm: connections, caches
        raw = wd / "profile.txt"
        spy = record(serve.proc.pid, args.seconds + 1, raw)
        time.sleep(0.5)
        cpu0 = cpu_seconds(serve.proc.pid)
        result = asyncio.run(load(target, args.conns, args.seconds, args.stream))
        cpu = cpu_seconds(serve.proc.pid) - cpu0
        spy.wait(args.seconds + 30)
    finally:
        serve.stop()
        fake.stop()
    kind = "stream" if args.stream else "non-stream"
    print(f"{args.provider} {kind}, {args.conns} connections: {result['requests']} requests, "
          f"{result['requests'] / result['seconds']:.0f} req/s, proxy CPU {cpu * 1000 / result['requests']:.3f} ms "
          f"per request, {result['errors']} errors")
    total, shares, own = summarise(raw)
    if not total:
        print("py-spy recorded nothing (ptrace not permitted?)")
        return 1
    print(f"\n{total} samples holding the interpreter, by component:")
    for label, n in shares.items():
        print(f"  {100 * n / total:5.1f} %  {label}")
    print("\nmost samples of their own:")
    for frame, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {frame[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
