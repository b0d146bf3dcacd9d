"""claude in ccm-tui's pane against claude run directly, both in the same tmux: typing latency and
start to prompt.

    python bench/pane_latency.py [--claude PATH] [--fake] [--starts 5] [--keys 60] [--json FILE]

One private tmux server (its own socket, windows of 160x45) with a control-mode client: commands
go through it, and its ``%output`` notices say when a pane changed, so the screen is captured
right after each change instead of on a polling clock. Per mode ("direct": claude itself; "ccm":
``python -m ccm_tui`` with claude in its pane) and per start:

* start to prompt: from ``new-window`` to claude's input line ("❯" under a rule) on the captured
  screen;
* typing: one letter at a time (50-120 ms apart, like a fast typist), from ``send-keys`` to the
  input line showing it; a round of 20 letters is then erased with backspaces.

Modes alternate start by start, so drift in the machine's load hits both alike. claude talks to
``fake_upstream.py`` on 127.0.0.1 (directly, or through ccm-tui's proxy); HOME is a throwaway one
whose ``.claude.json`` skips the first-run screens. ``--fake`` uses tests/fakes/fake_claude.py (a
line-mode prompt, echoed by the tty) where the real claude is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (160, 45)
PROMPT = re.compile(r"─{20,}[^\n]*\n[^❯\n]{0,3}❯")  # claude's input line, maybe behind ccm-tui's border
START_TIMEOUT = 30.0
KEY_TIMEOUT = 5.0
ROUND = 20  # letters typed before erasing them again


class Tmux:
    """A private tmux server driven through one control-mode client."""

    def __init__(self, workdir: Path) -> None:
        self.socket = str(workdir / "tmux.sock")  # private, and gone with the work folder
        conf = workdir / "tmux.conf"
        conf.write_text(f"set -g default-size {SIZE[0]}x{SIZE[1]}\n"
                        "set -g default-terminal tmux-256color\nset -g remain-on-exit off\n")
        subprocess.run(["tmux", "-S", self.socket, "-f", str(conf), "new-session", "-d", "-s", "hold",
                        "-x", str(SIZE[0]), "-y", str(SIZE[1]), "sleep 3600"], check=True, timeout=10)
        self.proc = subprocess.Popen(["tmux", "-S", self.socket, "-C", "attach", "-t", "hold"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, encoding="utf-8",
                                     errors="replace", bufsize=1)
        self.replies: queue.Queue[list[str]] = queue.Queue()
        self.changed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.replies.get(timeout=10)  # the empty reply to the attach itself

    def _read(self) -> None:
        assert self.proc.stdout is not None
        block: list[str] | None = None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if block is not None:
                if line.startswith(("%end ", "%error ")):
                    self.replies.put(block)
                    block = None
                else:
                    block.append(line)
            elif line.startswith("%begin "):
                block = []
            elif line.startswith(("%output ", "%extended-output ", "%window-", "%layout-change")):
                self.changed.set()

    def command(self, cmd: str, timeout: float = 10.0) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.replies.get(timeout=timeout)

    def capture(self, pane: str) -> str:
        return "\n".join(self.command(f"capture-pane -p -t {pane}"))

    def wait_for(self, pane: str, predicate, timeout: float) -> tuple[float, str]:  # type: ignore[no-untyped-def]
        """Capture after every change until ``predicate(screen)``; returns (when, screen)."""
        deadline = time.monotonic() + timeout
        while True:
            self.changed.clear()
            screen = self.capture(pane)
            now = time.monotonic()
            if predicate(screen):
                return now, screen
            if now > deadline:
                raise TimeoutError(f"not seen in {timeout:.0f} s; screen:\n{screen}")
            self.changed.wait(0.005)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], timeout=10, check=False)
        self.proc.wait(timeout=10)


def input_text(screen: str, marker: str) -> str | None:
    """What the input line shows after ``marker`` (claude's "❯"), cut at ccm-tui's border."""
    lines = [line for line in screen.splitlines() if marker in line]
    if not lines:
        return None
    return lines[-1].split(marker, 1)[1].split("│", 1)[0].replace("\xa0", " ").strip()


def quote(argv: list[str]) -> str:
    return " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.work = workdir
        self.home, self.project = workdir / "home", workdir / "project"
        self.home.mkdir()
        self.project.mkdir()
        (self.home / ".claude.json").write_text(json.dumps({
            "hasCompletedOnboarding": True, "theme": "dark",
            "projects": {str(self.project.resolve()): {"hasTrustDialogAccepted": True}}}))
        self.upstream = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--port", "0"],
                                         stdout=subprocess.PIPE, text=True)
        assert self.upstream.stdout is not None
        line = self.upstream.stdout.readline()
        self.url = f"http://127.0.0.1:{line.strip().split('=')[1]}"
        self.config = workdir / "config.toml"
        self.config.write_text(f'[providers.anthropic]\ntype = "anthropic"\nbase_url = "{self.url}"\n'
                               'api_key = "bench"\nmodels = ["claude-sonnet-4-5"]\n\n'
                               '[router]\ndefault = "anthropic,claude-sonnet-4-5"\n\n[history]\nenabled = false\n')
        if args.fake:
            self.claude = [sys.executable, str(ROOT / "tests" / "fakes" / "fake_claude.py"),
                           "--interactive", "--requests", "0"]
            self.marker, self.prompt = ">", re.compile(r"^[│ ]*>(?: |$)", re.M)
        else:
            self.claude = [args.claude]
            self.marker, self.prompt = "❯", PROMPT
        try:
            self.tmux = Tmux(workdir)
        except BaseException:
            self.upstream.terminate()
            raise

    def env(self, mode: str) -> dict[str, str]:
        env = {"HOME": str(self.home), "XDG_STATE_HOME": str(self.work / "state"),
               "XDG_CONFIG_HOME": str(self.work / "xdg"), "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        if mode == "direct":
            env |= {"ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_AUTH_TOKEN": "bench"}
        else:
            env |= {"PYTHONPATH": str(self.args.baseline if mode == "baseline" else ROOT)}
        return env

    def argv(self, mode: str) -> list[str]:
        if mode == "direct":
            return self.claude
        if self.args.fake:
            wrapper = self.work / "fake-claude"
            wrapper.write_text(f"#!/bin/sh\nexec {quote(self.claude)} \"$@\"\n")
            wrapper.chmod(0o755)
            claude = str(wrapper)
        else:
            claude = self.claude[0]
        return [sys.executable, "-m", "ccm_tui", "--config", str(self.config), "--claude-bin", claude]

    def run_once(self, mode: str, keys: int) -> tuple[float, list[float]]:
        env = " ".join(f"-e {quote([f'{k}={v}'])}" for k, v in self.env(mode).items())
        t0 = time.monotonic()
        pane = self.tmux.command(f"new-window -d -P -F '#{{pane_id}}' -c {quote([str(self.project)])} {env} "
                                 f"-- {quote(self.argv(mode))}")[0]
        try:
            size = self.tmux.command(f"display -p -t {pane} '#{{pane_width}}x#{{pane_height}}'")
            assert size == [f"{SIZE[0]}x{SIZE[1]}"], size  # a control client without a size resizes nothing
            shown, _ = self.tmux.wait_for(pane, lambda s: self.prompt.search(s) is not None, START_TIMEOUT)
            startup = shown - t0
            time.sleep(1.0)  # let claude settle (background start-up work) before typing
            latencies: list[float] = []
            typed = ""
            for i in range(keys):
                letter = "abcdefghijklmnopqrstuvwxyz"[i % 26]
                typed += letter
                sent = time.monotonic()
                self.tmux.command(f"send-keys -t {pane} -l {letter}")
                seen, _ = self.tmux.wait_for(pane, lambda s, t=typed: input_text(s, self.marker) == t, KEY_TIMEOUT)
                latencies.append(seen - sent)
                time.sleep(random.uniform(0.05, 0.12))
                if len(typed) == ROUND or i == keys - 1:
                    self.tmux.command(f"send-keys -t {pane} -N {len(typed)} BSpace")
                    self.tmux.wait_for(pane, lambda s, t=typed: not (input_text(s, self.marker) or "").startswith(t[:2]),
                                       KEY_TIMEOUT)
                    typed = ""
                    time.sleep(0.2)
            return startup, latencies
        finally:
            self.tmux.command(f"kill-pane -t {pane}")
            time.sleep(0.5)

    def close(self) -> None:
        self.tmux.close()
        self.upstream.terminate()
        self.upstream.wait(timeout=10)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
            "min_ms": round(ordered[0] * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claude", default=os.environ.get("CCM_CLAUDE_BIN") or shutil.which("claude")
                        or str(ROOT / ".cache" / "claude-cli" / "node_modules" / ".bin" / "claude"))
    parser.add_argument("--fake", action="store_true", help="tests/fakes/fake_claude.py instead of claude")
    parser.add_argument("--starts", type=int, default=5, help="starts per mode (default 5)")
    parser.add_argument("--keys", type=int, default=60, help="letters typed per start (default 60)")
    parser.add_argument("--modes", default="direct,ccm", help="of direct, ccm, baseline")
    parser.add_argument("--baseline", metavar="DIR", type=Path,
                        help="another checkout of ccm-tui, measured as mode 'baseline' (e.g. before a change)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    if not args.fake and not os.access(args.claude, os.X_OK):
        print(f"claude not found at {args.claude} (use --claude PATH or --fake)", file=sys.stderr)
        return 2
    modes = args.modes.split(",")
    if "baseline" in modes and args.baseline is None:
        parser.error("mode baseline needs --baseline DIR")
    startups: dict[str, list[float]] = {m: [] for m in modes}
    typing: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="ccm-pane-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            for i in range(max(1, args.starts)):
                for mode in modes if i % 2 == 0 else modes[::-1]:
                    startup, lat = bench.run_once(mode, max(1, args.keys))
                    startups[mode].append(startup)
                    typing[mode].extend(lat)
                    print(f"{mode:8} start {i + 1}: prompt after {startup * 1000:.0f} ms, "
                          f"typing p50 {statistics.median(lat) * 1000:.1f} ms", flush=True)
        finally:
            bench.close()
    result = {m: {"start_to_prompt": summary(startups[m]), "typing": summary(typing[m])} for m in modes}
    print(json.dumps(result, indent=2))
    if "direct" in result:
        d = result["direct"]
        for m in [m for m in modes if m != "direct"]:
            t, st = result[m]["typing"]["p50_ms"], result[m]["start_to_prompt"]["p50_ms"]
            print(f"{m}: typing p50 {t} ms vs direct {d['typing']['p50_ms']} ms "
                  f"({t - d['typing']['p50_ms']:+.1f} ms); start to prompt p50 {st:.0f} ms vs direct "
                  f"{d['start_to_prompt']['p50_ms']:.0f} ms ({st - d['start_to_prompt']['p50_ms']:+.0f} ms)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
