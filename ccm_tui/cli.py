"""Command line: ``ccm-tui`` (the TUI), ``serve``, ``statusline``, ``route``, ``doctor``, ``config init|check|import``,
``history``, ``usage``.

Each command lives in its own module under :mod:`ccm_tui.commands`, imported only when used so
that ``ccm-tui serve`` never loads Textual.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__


def _add_config(parser: argparse.ArgumentParser, *, sub: bool = True) -> None:
    # Subcommands SUPPRESS their default so `ccm-tui --config P route F` keeps the top-level value.
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS if sub else None,
        help="config file (default: $CCM_CONFIG or the XDG config dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccm-tui",
        description="Run Claude Code against any model through an embedded routing proxy.",
        epilog="Arguments after `--` are passed to claude unchanged.",
    )
    parser.add_argument("--version", action="version", version=f"ccm-tui {__version__}")
    _add_config(parser, sub=False)
    parser.add_argument("--claude-bin", metavar="PATH", help="claude executable (default: $CCM_CLAUDE_BIN or `claude`)")
    parser.add_argument("--no-embed", action="store_true", help="give claude the real terminal; dashboard returns after")
    parser.add_argument("--keep-open", action="store_true", help="keep the dashboard open when claude exits")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the proxy headless and log one line per request")
    _add_config(serve)
    serve.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from config; 0 = any free port)")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N",
                       help="processes serving the one port (default 1; auto = one per core)")

    sub.add_parser("statusline", help="print ccm's statusline for claude (reads claude's statusline JSON on stdin)")

    route = sub.add_parser("route", help="dry-run the router on a request body and print the decision")
    _add_config(route)
    route.add_argument("file", metavar="FILE", help="a Messages request body, or a fixture with a `body` key ('-' = stdin)")

    doctor = sub.add_parser("doctor", help="check that every route works with Claude Code (sends small requests)")
    _add_config(doctor)
    doctor.add_argument("--route", metavar="NAME", help="check only this route")
    doctor.add_argument("--json", action="store_true", help="print the results as one JSON object")

    from .commands.history import add_parsers as add_history_parsers  # argparse only; no store opened

    add_history_parsers(sub, _add_config)

    config = sub.add_parser("config", help="create, check or import a config file")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    init = config_sub.add_parser("init", help="write a commented config template")
    _add_config(init)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = config_sub.add_parser("check", help="validate the config and print problems with their line")
    _add_config(check)
    imp = config_sub.add_parser("import", help="convert a claude-code-router or CCM config")
    _add_config(imp)
    imp.add_argument("source", metavar="SRC", help="claude-code-router config.json or CCM-style TOML")
    imp.add_argument("--output", metavar="DEST", help="where to write (default: the config path)")
    imp.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["statusline"]:  # run by claude on every refresh: no parser, nothing heavy
        from .commands.statusline import run as statusline

        return statusline()
    claude_args: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, claude_args = args_list[:cut], args_list[cut + 1 :]
    args = build_parser().parse_args(args_list)
    args.claude_args = claude_args
    if args.command == "serve":
        from .commands.serve import run
    elif args.command == "route":
        from .commands.route import run
    elif args.command == "doctor":
        from .commands.doctor import run
    elif args.command == "config":
        from .commands.config import run
    elif args.command == "history":
        from .commands.history import run_history as run
    elif args.command == "usage":
        from .commands.history import run_usage as run
    else:
        from .commands.tui import run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


def _workers(value: str) -> int:
    if value == "auto":
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= 256:
        raise argparse.ArgumentTypeError(f"{value!r}: a number from 1 to 256, or auto")
    return count
