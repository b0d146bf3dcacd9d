"""``ccm-tui serve``: the proxy headless, one line per request on stdout."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from typing import TextIO

from ..config import ConfigError, load_config
from ..events import EventBus, FlowEvent, SessionUpdate
from ..flow import Flow
from ..history.writer import open_history, prepare_history
from ..logs import setup_file_logging
from ..proxy.validate import CONTROL_CHARS


def printable(text: str) -> str:
    """Control characters as ``\\xNN``: a client-chosen model name or an upstream's error text must not
    move the cursor, retitle the terminal (ESC/OSC) or forge a log line after a newline."""
    return CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_line(flow: Flow) -> str:
    """``HH:MM:SS #id route provider,model status ms in→out``: what serve prints per request."""
    clock = time.strftime("%H:%M:%S", time.localtime(flow.started_at))
    route = flow.route or "-"
    target = flow.target or flow.requested_model or "-"
    kind = "" if flow.kind == "messages" else f" [{flow.kind}]"
    ms = f"{flow.duration_ms:.0f}ms" if flow.duration_ms is not None else "-"
    ttfb = f" ttfb {flow.first_byte_ms:.0f}ms" if flow.stream and flow.first_byte_ms is not None else ""
    usage = f"{flow.usage.input_tokens}→{flow.usage.output_tokens} tok"
    error = f"  {flow.error_type}: {flow.error}" if flow.error else ""
    line = f"{clock} #{flow.id:<4} {route:<12} {target:<40} {flow.status or '-'} {ms}{ttfb} {usage}{kind}{error}"
    return printable(line)


def printer(out: TextIO):  # type: ignore[no-untyped-def]
    def on_event(event: FlowEvent, flow: Flow) -> None:
        if event in (FlowEvent.FINISHED, FlowEvent.FAILED):
            out.write(format_line(flow) + "\n")
            out.flush()

    return on_event


def session_printer(err: TextIO):  # type: ignore[no-untyped-def]
    """Reloads and refused edits, on stderr (stdout keeps one line per request)."""

    def on_update(update: SessionUpdate) -> None:
        if update.about_the_file:
            err.write("ccm-tui: " + "\n  ".join([update.message, *update.problems]) + "\n")
            err.flush()

    return on_update


def run(args) -> int:  # type: ignore[no-untyped-def]
    from ..proxy.server import ProxyServer

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"ccm-tui: config error:\n{exc}", file=sys.stderr)
        return 2
    log_file = setup_file_logging()
    bus = EventBus()
    bus.subscribe(printer(sys.stdout))
    bus.subscribe_session(session_printer(sys.stderr))
    try:
        server = ProxyServer(config, bus, host=args.host, port=args.port, preconnect=True,
                             reuse_port=getattr(args, "workers", 1) > 1)
    except OSError as exc:
        port = config.server.port if args.port is None else args.port
        print(f"ccm-tui: cannot listen on {args.host or config.server.host}:{port}: {exc}", file=sys.stderr)
        return 2
    if not server.is_loopback:
        print(f"ccm-tui: warning: listening on {server.host}, not loopback; the token is still required",
              file=sys.stderr)
    if config.embedded_default:
        print(f"ccm-tui: no config file at {config.path}: passthrough to Anthropic "
              "(`ccm-tui config init` writes one)", file=sys.stderr)

    if getattr(args, "workers", 1) > 1:
        prepare_history(config.history)
    workers = _fork_workers(getattr(args, "workers", 1))
    first = workers is not None  # the process that was started; the others only serve
    if not first:
        server.listen_again()

    def ready() -> None:
        if first:
            # claude keeps its own login (auth = "client"): the token goes in ANTHROPIC_CUSTOM_HEADERS instead
            token = " ".join(f"{name}={value if name == 'ANTHROPIC_AUTH_TOKEN' else shlex.quote(value)}"
                             for name, value in server.token_env().items())
            print(f"ANTHROPIC_BASE_URL={server.base_url} {token}", flush=True)
            print(f"ccm-tui: serving; log file {log_file}; config edits apply at once (or on SIGHUP); Ctrl-C stops",
                  file=sys.stderr, flush=True)

    history = open_history(config.history, bus, server.redactor)
    try:
        server.run_forever(on_ready=ready)
    finally:
        if history is not None:
            history.close()
        _stop_workers(workers or [])
    if not first:
        sys.stdout.flush()
        os._exit(0)  # a forked worker leaves no atexit work of its parent behind
    return 0


def _fork_workers(count: int) -> list[int] | None:
    """``count - 1`` more processes sharing the bound socket (the kernel spreads the connections).
    Returns the workers' pids in the first process, None in a worker. Forked before any thread or loop
    starts; each process then has its own loop, history writer (one SQLite file in WAL mode) and budget."""
    pids: list[int] = []
    for _ in range(count - 1):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            return None
        pids.append(pid)
    return pids


def _stop_workers(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10.0
    for pid in pids:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.02)
