"""A stand-in for claude that floods its terminal at a fixed rate (for bench/tui_flood.py).

    flood_claude.py --env-out FILE --stats FILE [--rate BYTES_PER_S] [--seconds N]

Writes what the real claude would get from ccm-tui (the proxy's URL, token, custom headers) and its
parent's pid (the TUI) to ``--env-out`` as JSON, then writes ANSI output to its terminal at
``--rate`` bytes per second for at most ``--seconds``: coloured build-log lines (16, 256 and true
colour), long lines that wrap, a progress line rewritten in place, and cursor-addressed status
redraws, like a build log or claude streaming. Writes are blocking, so a reader that falls behind
slows the flood down (back-pressure); ``--stats`` gets ``{"bytes": N, "t": monotonic}`` every
0.2 s, which is how the rate actually achieved is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

TICK = 0.005  # pacing step
STATS_EVERY = 0.2
ENV_KEYS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS", "TERM", "COLORTERM")
WORDS = ("compiling", "linking", "warning:", "src/proxy/server.py", "ok", "test_stream_translation", "PASSED",
         "tokens", "assistant", "def", "return", "await", "response", "∑", "→", "✓", "ünïcödé", "日本語")


def sample_output(rng: random.Random, size: int) -> bytes:
    """About ``size`` bytes of realistic terminal output (a cycle of it is written over and over)."""
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        n += 1
        kind = n % 10
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        if kind in (0, 1, 2, 3):  # a coloured log line
            colour = rng.choice(("\x1b[32m", "\x1b[1;34m", "\x1b[33m", "\x1b[31;1m", "\x1b[2m"))
            line = f"{colour}[{n:06d}]\x1b[0m {words} \x1b[38;5;{rng.randint(16, 255)}m{rng.random():.6f}\x1b[0m\r\n"
        elif kind == 4:  # a long line that wraps a few times
            line = "\x1b[38;2;{};{};{}m".format(*(rng.randint(0, 255) for _ in range(3))) + \
                (words + " ") * rng.randint(8, 20) + "\x1b[0m\r\n"
        elif kind in (5, 6):  # a progress line rewritten in place
            pct = rng.randint(0, 100)
            line = f"\r\x1b[2K\x1b[36m{'█' * (pct // 4)}{'░' * (25 - pct // 4)}\x1b[0m {pct:3d}% {words[:40]}"
            line += "\r\n" if kind == 6 else ""
        elif kind == 7:  # a status redraw: save cursor, go to row 1, write, restore
            line = f"\x1b7\x1b[1;1H\x1b[2K\x1b[7m ccm {n} \x1b[27m \x1b[1m{words[:60]}\x1b[0m\x1b8"
        elif kind == 8:  # claude-like streamed text: bold and italic spans, cursor back and forth
            line = f"\x1b[1m●\x1b[22m {words} \x1b[3m{words[:30]}\x1b[23m\x1b[5D\x1b[K.\r\n"
        else:  # a diff line on a coloured background
            line = f"\x1b[48;2;2;40;0m+ {words}\x1b[K\x1b[0m\r\n"
        parts.append(line)
        total += len(line.encode())
    return "".join(parts).encode()


def write_stats(path: Path, written: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"bytes": written, "t": time.monotonic()}))
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-out", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--rate", type=int, default=545_000, help="bytes per second (default 545000)")
    parser.add_argument("--seconds", type=float, default=600.0, help="stop flooding after this long")
    args, _ = parser.parse_known_args()  # ccm-tui adds claude's own (--settings ...)
    tmp = args.env_out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"ppid": os.getppid(), "pid": os.getpid(),
                               **{k: os.environ[k] for k in ENV_KEYS if k in os.environ}}))
    tmp.replace(args.env_out)
    blob = sample_output(random.Random(19), 1 << 20)
    fd = 1
    written = pos = 0
    credit = 0.0
    t0 = last = last_stats = time.monotonic()
    write_stats(args.stats, 0)
    while (now := time.monotonic()) - t0 < args.seconds:
        # At most 50 ms of debt: after a stall (back-pressure) the flood resumes at its rate, no burst.
        credit = min(credit + (now - last) * args.rate, 0.05 * args.rate)
        last = now
        while credit >= 1:
            n = os.write(fd, blob[pos:pos + min(int(credit), 16384)])  # blocks while the reader is behind
            written += n
            credit -= n
            pos = (pos + n) % len(blob)
        if now - last_stats >= STATS_EVERY:
            write_stats(args.stats, written)
            last_stats = now
        time.sleep(TICK)
    write_stats(args.stats, written)
    time.sleep(3600)  # keep the pane's last screen until the bench ends us
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
