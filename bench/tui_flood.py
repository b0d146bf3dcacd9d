"""The embedded proxy while claude's pane floods: ``ccm-tui`` (TUI, proxy on its own thread) against
``ccm-tui serve``, added latency over going direct.

    python bench/tui_flood.py [--rounds 3] [--n 400] [--rate 545000] [--serve-alone] [--quick] [--json FILE]

Rounds alternate between (a) ``ccm-tui serve`` and (b) the whole TUI (``python -m ccm_tui``) in a
private tmux server (160x45) whose claude is bench/flood_claude.py, writing realistic ANSI to its
terminal at ``--rate`` bytes/s. The TUI's proxy address and token are read from what that claude
was started with (ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN), as the real claude gets them. In each
round a keep-alive httpx client sends sequential non-stream requests, direct to the fake upstream
and through the proxy interleaved (bench/measure.py), after a warm-up. A flooding TUI also runs
during the serve rounds (its proxy idle), so both sides share the machine's load alike and the
ratio is what embedding costs; ``--serve-alone`` measures serve without it.

Reported per mode (medians over rounds): p50/p99 direct and proxied, added p50/p99 (proxied minus
direct), the TUI/serve ratios of the added figures, the 1-minute load average, the flood rate the
fake claude achieved meanwhile (it blocks when the pane reads slower) and the TUI process's CPU.
Writes bench/results/tui_flood.json. Every loop is bounded in count and time; 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Target, nonstream_latency  # noqa: E402
from pane_latency import SIZE, Tmux, quote  # noqa: E402
from procs import BENCH, ROOT, TOKEN, cpu_seconds, start_fake, start_serve, workdir, write_config  # noqa: E402

START_TIMEOUT = 60.0
SERIAL = itertools.count()  # each TUI's tmux session and files get their own name
JSON_HEADERS = {"anthropic-version": "2023-06-01"}


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of a process's main thread (the TUI's event loop; the proxy has its own thread)."""
    return cpu_seconds(pid, thread=pid)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class FloodingTui:
    """``python -m ccm_tui`` in its own tmux session, with bench/flood_claude.py as claude."""

    def __init__(self, tmux: Tmux, work: Path, config: Path, name: str, rate: int, seconds: float,
                 checkout: Path = ROOT) -> None:
        self.tmux, self.name = tmux, name
        self.env_out, self.stats = work / f"{name}.env.json", work / f"{name}.stats.json"
        wrapper = work / f"{name}-claude"
        wrapper.write_text("#!/bin/sh\nexec " + quote([sys.executable, str(BENCH / "flood_claude.py"),
                                                        "--env-out", str(self.env_out), "--stats", str(self.stats),
                                                        "--rate", str(rate), "--seconds", str(seconds)])
                           + ' "$@"\n')
        wrapper.chmod(0o755)
        (work / "home").mkdir(exist_ok=True)
        env = {"PYTHONPATH": str(checkout), "HOME": str(work / "home"), "XDG_STATE_HOME": str(work / "state"),
               "XDG_CONFIG_HOME": str(work / "config")}
        flags = " ".join(f"-e {quote([f'{k}={v}'])}" for k, v in env.items())
        argv = [sys.executable, "-m", "ccm_tui", "--config", str(config), "--claude-bin", str(wrapper)]
        # A session of its own: the control client is attached to another one, so the flood does not
        # come back to this process as %output lines.
        # Started in the work folder: ``-m ccm_tui`` imports from the current directory first, PYTHONPATH next.
        tmux.command(f"new-session -d -s {name} -x {SIZE[0]} -y {SIZE[1]} -c {quote([str(work)])} {flags} "
                     f"-- {quote(argv)}")
        deadline = time.monotonic() + START_TIMEOUT
        while (seen := read_json(self.env_out)) is None:
            if time.monotonic() > deadline:
                screen = "\n".join(tmux.command(f"capture-pane -p -t {name}"))
                raise RuntimeError(f"the TUI started no claude within {START_TIMEOUT:.0f} s:\n{screen}")
            time.sleep(0.05)
        self.pid: int = seen["ppid"]
        self.base_url: str = seen["ANTHROPIC_BASE_URL"]
        self.token: str = seen.get("ANTHROPIC_AUTH_TOKEN", "")
        with httpx.Client(timeout=2.0) as client:
            while True:
                try:
                    if client.get(self.base_url + "/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the TUI's proxy never answered /health")
                time.sleep(0.05)

    def flood_bytes(self) -> tuple[int, float]:
        stats = read_json(self.stats) or {"bytes": 0, "t": time.monotonic()}
        return stats["bytes"], stats["t"]

    def close(self) -> None:
        self.tmux.command(f"kill-session -t {self.name}")


def measure(targets: list[Target], args: argparse.Namespace, tui: FloodingTui | None,
            cpu_pid: int) -> dict[str, Any]:
    """Latency direct and through ``targets[1]``; CPU of the proxy's process (``cpu_pid``) and the TUI's."""
    time.sleep(args.settle)
    b0, t0 = tui.flood_bytes() if tui else (0, 0.0)
    c0, tc0, mc0 = cpu_seconds(cpu_pid), cpu_seconds(tui.pid) if tui else 0.0, main_thread_cpu(tui.pid) if tui else 0.0
    w0, l0 = time.monotonic(), load1()
    lat = nonstream_latency(targets, args.n, args.warmup, args.budget_s)
    wall = time.monotonic() - w0
    out: dict[str, Any] = {"load1": round((l0 + load1()) / 2, 2),
                           "cpu_pct": round((cpu_seconds(cpu_pid) - c0) / wall * 100, 1)}
    if tui:
        b1, t1 = tui.flood_bytes()
        # None when the fake claude wrote no stats meanwhile (every 0.2 s): a window too short to tell
        out["flood_kb_s"] = round((b1 - b0) / (t1 - t0) / 1000, 1) if t1 > t0 else None
        out["tui_cpu_pct"] = round((cpu_seconds(tui.pid) - tc0) / wall * 100, 1)
        out["tui_main_cpu_pct"] = round((main_thread_cpu(tui.pid) - mc0) / wall * 100, 1)
    direct, proxied = lat["direct"], lat["proxy"]
    out |= {"direct": direct, "proxy": proxied, "errors": direct["errors"] + proxied["errors"],
            "added_p50": round(proxied["p50"] - direct["p50"], 3), "added_p99": round(proxied["p99"] - direct["p99"], 3)}
    return out


def one_round(mode: str, i: int, args: argparse.Namespace, tmux: Tmux, work: Path, config: Path,
              direct: Target) -> dict[str, Any]:
    tui = serve = None
    try:
        if mode != "serve" or not args.serve_alone:
            checkout = args.baseline if mode == "baseline" else ROOT
            tui = FloodingTui(tmux, work, config, f"tui{next(SERIAL)}", args.rate, args.budget_s + 60, checkout)
        if mode == "serve":
            serve = start_serve(work, config, name=f"serve{i}")
            target = Target("proxy", serve.base_url, {**JSON_HEADERS, "x-api-key": TOKEN}, "anthropic,")
            result = measure([direct, target], args, tui, serve.proc.pid)
        else:
            assert tui is not None
            target = Target("proxy", tui.base_url, {**JSON_HEADERS, "x-api-key": tui.token}, "anthropic,")
            result = measure([direct, target], args, tui, tui.pid)
        return result
    finally:
        if serve:
            serve.stop()
        if tui:
            tui.close()


def med(rounds: list[dict[str, Any]], *keys: str) -> float | None:
    values = []
    for r in rounds:
        v: Any = r
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, int | float):
            values.append(v)
    return round(statistics.median(values), 3) if values else None


def summarize(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode, rounds in results.items():
        out[mode] = {k: med(rounds, *k.split(".")) for k in (
            "direct.p50", "direct.p99", "proxy.p50", "proxy.p99", "added_p50", "added_p99",
            "load1", "cpu_pct", "tui_cpu_pct", "tui_main_cpu_pct", "flood_kb_s")}
        out[mode]["errors"] = sum(r["errors"] for r in rounds)
    s = out.get("serve", {})
    for mode in [m for m in results if m != "serve"]:
        for key in ("added_p50", "added_p99"):
            if s.get(key) and out[mode].get(key) is not None:
                out[mode][f"ratio_{key}"] = round(out[mode][key] / s[key], 2)
    return out


def table(summary: dict[str, Any]) -> str:
    modes = list(summary)
    rows = [("", *modes)]
    labels = {"direct.p50": "direct p50 ms", "direct.p99": "direct p99 ms", "proxy.p50": "proxied p50 ms",
              "proxy.p99": "proxied p99 ms", "added_p50": "added p50 ms", "added_p99": "added p99 ms",
              "load1": "load average (1 min)", "cpu_pct": "proxy process CPU %",
              "tui_cpu_pct": "flooding TUI CPU %", "tui_main_cpu_pct": "its main thread CPU %",
              "flood_kb_s": "flood KB/s achieved",
              "errors": "errors", "ratio_added_p50": "added p50 / serve's", "ratio_added_p99": "added p99 / serve's"}
    for key, label in labels.items():
        rows.append((label, *(str(summary[m].get(key, "-")) for m in modes)))
    lines = [f"{row[0]:<24}" + "".join(f"{cell:>12}" for cell in row[1:]) for row in rows]
    lines.append("target: added p50 / serve's <= 1.3, added p99 / serve's <= 2")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (default 3)")
    parser.add_argument("--n", type=int, default=400, help="requests per round and target (default 400)")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--rate", type=int, default=545_000, help="flood bytes/s (default 545000)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of flood before measuring")
    parser.add_argument("--budget-s", type=float, default=90.0, help="most seconds a round measures")
    parser.add_argument("--serve-alone", action="store_true", help="no flooding TUI beside serve in its rounds")
    parser.add_argument("--modes", default="serve,tui", help="of serve, tui, baseline (default serve,tui)")
    parser.add_argument("--baseline", metavar="DIR", type=Path,
                        help="another checkout of ccm-tui, its TUI measured as mode 'baseline' (e.g. before a change)")
    parser.add_argument("--quick", action="store_true", help="one round of 30 requests per mode (a smoke run)")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "tui_flood.json")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.n, args.warmup, args.settle = 1, 30, 5, 0.5
    modes = args.modes.split(",")
    if "baseline" in modes and args.baseline is None:
        parser.error("mode baseline needs --baseline DIR")
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    work = workdir()
    fake = start_fake(work)
    tmux = None
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    try:
        config = write_config(work, fake.base_url)
        tmux = Tmux(work)
        direct = Target("direct", fake.base_url, {**JSON_HEADERS, "x-api-key": "bench-upstream-key"})
        for i in range(max(1, args.rounds)):
            for mode in modes if i % 2 == 0 else modes[::-1]:
                r = one_round(mode, i, args, tmux, work, config, direct)
                results[mode].append(r)
                print(f"round {i + 1} {mode:8}: added p50 {r['added_p50']:.2f} ms p99 {r['added_p99']:.2f} ms, "
                      f"load {r['load1']}, flood {r.get('flood_kb_s', '-')} KB/s, cpu {r.get('cpu_pct')}%",
                      flush=True)
    finally:
        if tmux:
            tmux.close()
        fake.stop()
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(results)
    settings = {k: getattr(args, k) for k in ("rounds", "n", "warmup", "rate", "settle", "serve_alone", "modes")}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"settings": settings, "summary": summary, "rounds": results,
                                     "cpus": os.cpu_count()}, indent=2))
    print(table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
