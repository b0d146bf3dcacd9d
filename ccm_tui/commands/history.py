"""``ccm-tui history`` (sessions, or one session's agent tree) and ``ccm-tui usage`` (spend and cache rates)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from ..config import ConfigError, load_config
from ..history.store import GROUPINGS, UsageRow
from ..text import escape_control

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``2w`` → the epoch time that long ago."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise ValueError(f"--since {text!r}: expected a number and a unit (s, m, h, d, w), e.g. 7d")
    return time.time() - float(match.group(1)) * _UNITS[match.group(2)]


def _open_store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..history.sqlite import SQLiteStore
    from ..history.writer import default_history_path

    config = load_config(getattr(args, "config", None))
    path = Path(config.history.path).expanduser() if config.history.path else default_history_path()
    if not path.exists():
        print(f"ccm-tui: no history yet ({path})", file=sys.stderr)
        return None
    return SQLiteStore(path)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """``(since, store or None)``, or the exit status for bad arguments (the reason is printed)."""
    try:
        return parse_since(args.since), _open_store(args)
    except (ValueError, ConfigError) as exc:
        print(f"ccm-tui: {exc}", file=sys.stderr)
        return 2


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _usage_line(key: str, row: UsageRow, width: int) -> str:
    return (f"{escape_control(key):<{width}} {row.requests:>6} {row.errors:>4} {_tokens(row.input_tokens):>8} "
            f"{_tokens(row.output_tokens):>8} {_tokens(row.cache_read_tokens):>8} {_rate(row.cache_hit_rate):>6} "
            f"${row.cost_usd:>9.4f}")


def _usage_header(label: str, width: int) -> str:
    return f"{label:<{width}} {'reqs':>6} {'errs':>4} {'in':>8} {'out':>8} {'cached':>8} {'hit':>6} {'cost':>10}"


def run_usage(args: argparse.Namespace) -> int:
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    since, store = opened
    rows = store.usage(since=since, by=args.by) if store else []
    if args.json:
        total = _sum(rows)
        print(json.dumps({"since": since, "by": args.by, "rows": [r.as_dict() for r in rows],
                          "total": total.as_dict()}, indent=2))
        return 0
    width = max([len(args.by), 5, *(len(r.key) for r in rows)])
    print(_usage_header(args.by, width))
    for row in rows:
        print(_usage_line(row.key, row, width))
    print(_usage_line("total", _sum(rows), width))
    return 0


def _sum(rows: list[UsageRow]) -> UsageRow:
    total = UsageRow("total", 0, 0, 0, 0, 0, 0, 0.0)
    for row in rows:
        for name in ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
                     "cache_write_tokens", "cost_usd"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return total


def run_history(args: argparse.Namespace) -> int:
    opened = _open(args)
    if isinstance(opened, int):
        return opened
    since, store = opened
    if store is None:
        return 0
    if args.open and args.session is None:
        print("ccm-tui: --open needs --session ID (see `ccm-tui history` for the ids)", file=sys.stderr)
        return 2
    if args.session is None:
        sessions = store.sessions(since=since)
        width = max([7, *(len(s.session_id) for s in sessions)])
        print(f"{'started':<16} " + _usage_header("session", width) + "  agents  models")
        for s in sessions:
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.first_at))
            print(f"{started:<16} {_usage_line(s.session_id, s.usage, width)}  {s.agents:>6}  "
                  f"{escape_control(s.models)}")
        return 0
    from ..sessions import build_tree, record_samples

    records = list(store.records(since=since, session=args.session, with_bodies=args.open))
    if not records:
        print(f"ccm-tui: no requests of session {args.session!r} since --since {args.since}", file=sys.stderr)
        return 1
    if args.open:
        return _open_past(args, records)
    for tree in build_tree(record_samples(records)):
        for depth, node in tree.walk():
            whole = node.total() if node.kind == "session" else node
            label = {"session": f"session {node.id}", "main": "main thread"}.get(node.kind, f"agent {node.id}")
            p50 = f"{whole.p50_ms:.0f}ms" if whole.p50_ms is not None else "-"
            print(f"{'  ' * depth}{escape_control(label)}: {whole.requests} req, {whole.errors} err, "
                  f"in {_tokens(whole.input_tokens)} out {_tokens(whole.output_tokens)}, "
                  f"cache {_rate(whole.cache_hit_rate)}, ${whole.cost_usd:.4f}, p50 {p50}, "
                  f"{escape_control(' '.join(whole.targets)) or '-'}")
    return 0


def _open_past(args: argparse.Namespace, records: list) -> int:  # type: ignore[type-arg]
    """The recorded session in the dashboard, read-only; the proxy serves replays on the current config."""
    from ..events import EventBus
    from ..history.store import flow_of
    from ..logs import setup_file_logging
    from ..proxy.server import ProxyServer
    from ..tui.past import past_session_app

    config = load_config(getattr(args, "config", None))
    setup_file_logging()
    server = ProxyServer(config, EventBus())
    server.start_in_thread()
    try:
        past_session_app(server, [flow_of(r) for r in records], args.session).run()
    finally:
        server.stop()
    return 0


def add_parsers(sub: argparse._SubParsersAction, add_config) -> None:  # type: ignore[type-arg, no-untyped-def]
    history = sub.add_parser("history", help="list past sessions, or one session's agent tree")
    add_config(history)
    history.add_argument("--since", default="7d", help="how far back: 30m, 12h, 7d, 2w (default 7d)")
    history.add_argument("--session", metavar="ID", help="one session's agent tree ('unknown': no session header)")
    history.add_argument("--open", action="store_true",
                         help="with --session: open it in the dashboard, read-only (inspect, replay)")
    usage = sub.add_parser("usage", help="spend, tokens and cache hit rates from the history")
    add_config(usage)
    usage.add_argument("--since", default="30d", help="how far back (default 30d)")
    usage.add_argument("--by", choices=GROUPINGS, default="day", help="grouping (default day)")
    usage.add_argument("--json", action="store_true", help="one JSON object instead of a table")
