"""``ccm-tui [-- CLAUDE_ARGS…]``: start the proxy on its own thread, then the TUI with claude in it."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

import platformdirs

from ..claude_env import claude_env
from ..claude_launch import launch_args, launch_env
from ..config import ConfigError, default_config_path, load_config
from ..events import EventBus
from ..logs import setup_file_logging
from ..proxy.endpoint import Endpoint, child_env
from ..terminal.emulator import outer_color_system, with_terminal_env
from ..terminal.pty_session import PtySession

SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005


def user_claude() -> Path:
    """Where the README's set-up command installs claude for this user when none is on PATH."""
    return Path(platformdirs.user_data_dir("ccm-tui")) / "claude-cli" / "node_modules" / ".bin" / "claude"


def resolve_claude(explicit: str | None) -> str | None:
    """--claude-bin, else $CCM_CLAUDE_BIN, else `claude` on PATH, else the per-user install."""
    candidate = explicit or os.environ.get("CCM_CLAUDE_BIN")
    if candidate is None:
        found = shutil.which("claude")
        candidate = found or str(user_claude())
    elif os.sep not in candidate:
        return shutil.which(candidate)
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def spawn_for_pane(argv: list[str], env: dict[str, str], cwd: str) -> PtySession | None:
    """Start claude for the embedded pane before Textual is even imported, sized for the default
    layout (half the width in a bordered box, status bar and footer below); the pane corrects the
    size when it attaches. None when it cannot start: the pane then tries and shows why."""
    columns, lines = shutil.get_terminal_size()
    session = PtySession(argv, with_terminal_env(env, outer_color_system()), cwd,
                         columns=max(1, columns // 2 - 2), lines=max(1, lines - 4))
    try:
        session.spawn()
    except OSError:
        return None
    return session


def first_run_wanted(args: argparse.Namespace) -> bool:
    """No config named and none at the default path, in a terminal: the first-run screen comes first."""
    if args.config is not None or os.environ.get("CCM_CONFIG") or default_config_path().exists():
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def run(args: argparse.Namespace) -> int:
    claude = resolve_claude(args.claude_bin)
    if claude is None:
        name = args.claude_bin or os.environ.get("CCM_CLAUDE_BIN") or "claude"
        print(f"ccm-tui: cannot find the claude executable {name!r}.\n"
              f"Install Claude Code (npm install --prefix {user_claude().parents[2]} @anthropic-ai/claude-code), "
              "or point --claude-bin "
              "or $CCM_CLAUDE_BIN at it. `ccm-tui serve` runs the proxy alone.", file=sys.stderr)
        return 127
    if first_run_wanted(args):
        from ..tui.first_run import FirstRunApp

        if FirstRunApp(default_config_path()).run() is None:
            return 0
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("ccm-tui: the config has problems:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    log_path = setup_file_logging()
    logging.captureWarnings(True)  # a stray warning must not print over the TUI

    try:
        endpoint = Endpoint(config)  # the proxy's address and token, before its heavy imports
    except OSError as exc:
        print(f"ccm-tui: cannot listen on {config.server.host}:{config.server.port}: {exc}", file=sys.stderr)
        return 2
    embed = not args.no_embed
    env = claude_env(config, {**child_env(endpoint.base_url, endpoint.token, config), **launch_env(config)},
                     embedded=embed)
    argv = [claude, *launch_args(config, args.claude_args, Path.cwd())]
    session = spawn_for_pane(argv, env, os.getcwd()) if embed else None  # loads while the rest starts
    default_interval = sys.getswitchinterval()
    try:
        from ..history.writer import open_history
        from ..proxy.server import ProxyServer
        from ..tui.app import CcmApp

        bus = EventBus()
        server = ProxyServer(config, bus, endpoint=endpoint, preconnect=True)  # claude's first requests wait in the backlog
        # History and the app listen before the proxy serves: nothing claude asks early goes unrecorded.
        history = open_history(config.history, bus, server.redactor)
        app = CcmApp(server, argv, env, claude_cwd=os.getcwd(), embed=embed, keep_open=args.keep_open,
                     log_path=log_path, claude_session=session)
        # The UI thread and the proxy's share one interpreter: a thread waiting for it waits up to the
        # switch interval each time. 0.5 ms instead of 5 keeps the proxy's p99 near serve's while the
        # pane is busy (bench/tui_flood.py: against 1 ms, proxied p99 5.9 vs 7.1-7.4 ms, p50 1.7 vs
        # 1.6 ms); threads that do not compete never notice.
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            server.start_in_thread()
        except RuntimeError as exc:
            print(f"ccm-tui: {exc} (details in {log_path})", file=sys.stderr)
            if history is not None:
                history.close()
            return 1
        try:
            app.run()
        finally:
            server.stop()
            if history is not None:
                history.close()
    finally:
        sys.setswitchinterval(default_interval)
        if session is not None:
            session.kill_now()  # only if the pane never took it over
    return app.return_code or 0
