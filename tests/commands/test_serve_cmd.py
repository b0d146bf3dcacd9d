"""`ccm-tui serve`: ready fast, one line per request, Ctrl-C exits cleanly."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import CANARY_KEY
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import run_asgi
from tests.reliability.conftest import wait_until

CONFIG = """
[providers.anthropic]
type = "anthropic"
base_url = "{upstream}"
api_key = "$KEY"
models = ["claude-sonnet-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
"""
LINE = re.compile(r"ANTHROPIC_BASE_URL=(http://127\.0\.0\.1:\d+) ANTHROPIC_AUTH_TOKEN=(\S+)")


def test_serve_ready_logs_requests_and_exits_on_ctrl_c(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake = FakeAnthropic()
    with run_asgi(fake.app) as upstream:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(upstream=upstream))
        env = {**os.environ, "KEY": CANARY_KEY, "CCM_LOG_FILE": str(tmp_path / "log")}
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            first = process.stdout.readline()  # type: ignore[union-attr]
            match = LINE.search(first)
            assert match, first
            base_url, token = match.groups()
            response = httpx.post(base_url + "/v1/messages", headers={"x-api-key": token},
                                  json={"model": "claude-opus-4-8", "max_tokens": 5,
                                        "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
            ready_and_answered = time.monotonic() - started
            assert response.status_code == 200
            line = process.stdout.readline()  # type: ignore[union-attr]
            assert re.search(r"#\d+\s+default\s+anthropic,claude-sonnet-4-5\s+200 \d+ms 12→7 tok", line), line
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
            stderr = process.stderr.read()  # type: ignore[union-attr]
        finally:
            if process.poll() is None:
                process.kill()
    assert "Traceback" not in stderr and CANARY_KEY not in stderr + first + line
    assert ready_and_answered < 5.0, "interpreter start + first answer (the benchmark measures it properly)"


def test_a_line_never_carries_control_characters() -> None:
    """Model names and error texts come from clients and upstreams: no ESC/OSC, no forged second line."""
    from ccm_tui.commands.serve import format_line
    from ccm_tui.flow import Flow

    flow = Flow("POST", "/v1/messages", {})
    flow.requested_model = "claude\x1b]0;pwned\x07\x1b[2J\n12:00:00 #999 default anthropic,fake 200 1ms\r\x9b"
    flow.status, flow.error, flow.error_type = 400, "bad\nforged", "invalid_request_error"
    line = format_line(flow)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x07" not in line
    assert not any(0x80 <= ord(c) < 0xA0 for c in line)
    assert "claude\\x1b]0;pwned\\x07" in line and "bad\\x0aforged" in line


def lines_of(stream) -> Callable[[float], str]:  # type: ignore[no-untyped-def]
    """Read a pipe's lines on a thread; the returned function waits at most ``timeout`` s for the next."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lambda timeout: lines.get(timeout=timeout)


def test_serve_reloads_an_edited_config_and_survives_sighup(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake = FakeAnthropic()
    with run_asgi(fake.app) as upstream:
        config = tmp_path / "config.toml"
        text = f"""
[providers.anthropic]
type = "anthropic"
base_url = "{upstream}"
api_key = "$KEY"

[router]
default = "anthropic,claude-sonnet-4-5"
"""
        config.write_text(text)
        env = {**os.environ, "KEY": CANARY_KEY, "CCM_LOG_FILE": str(tmp_path / "log")}
        process = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            match = LINE.search(process.stdout.readline())  # type: ignore[union-attr]
            assert match
            base_url, token = match.groups()
            err = lines_of(process.stderr)
            assert "serving" in err(10)
            config.write_text(text.replace("claude-sonnet-4-5", "claude-opus-4-1"))
            process.send_signal(signal.SIGHUP)  # the file watcher may see the edit first: one of them reloads
            reloaded = err(15)
            assert reloaded.startswith("ccm-tui: config reloaded (") and "router" in reloaded, reloaded
            process.send_signal(signal.SIGHUP)  # nothing changed since: no line, and serve keeps running
            response = httpx.post(base_url + "/v1/messages", headers={"x-api-key": token}, timeout=10,
                                  json={"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            assert response.status_code == 200 and fake.requests[-1]["body"]["model"] == "claude-opus-4-1"
            config.write_text("[providers\n")
            refused = err(15)
            assert "edit not applied" in refused, refused
            assert "TOML syntax error" in err(5)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_serve_workers_share_the_port_and_stop_together(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``--workers 2``: two processes answer on one port (their history records name both), each
    request is answered once, and stopping the first process stops the other."""
    import sqlite3

    fake = FakeAnthropic()
    with run_asgi(fake.app) as upstream:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(upstream=upstream) + f"""
[history]
path = "{tmp_path / 'history.sqlite3'}"
""")
        env = {**os.environ, "KEY": CANARY_KEY, "CCM_LOG_FILE": str(tmp_path / "log")}
        process = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config),
                                    "--port", "0", "--workers", "2"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        workers: list[str] = []
        writers: list[str] = []
        try:
            match = LINE.search(process.stdout.readline())  # type: ignore[union-attr]
            assert match
            base_url, token = match.groups()
            for _ in range(40):  # a fresh connection each: the kernel spreads them over the two sockets
                response = httpx.post(base_url + "/v1/messages", headers={"x-api-key": token},
                                      json={"model": "x", "max_tokens": 5,
                                            "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
                assert response.status_code == 200
            children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
            writers = [pid for pid in children if b"history.child" in open(f"/proc/{pid}/cmdline", "rb").read()]
            workers = [pid for pid in children if pid not in writers]
            assert len(workers) == 1 and len(writers) == 1, "one worker; each process has its history writer"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            stderr = process.stderr.read()  # type: ignore[union-attr]
        finally:
            if process.poll() is None:
                process.kill()
            for pid in workers + writers:
                if os.path.exists(f"/proc/{pid}"):
                    os.kill(int(pid), signal.SIGKILL)
    assert "Traceback" not in stderr
    assert not os.path.exists(f"/proc/{workers[0]}") or "zombie" in open(f"/proc/{workers[0]}/status").read().lower()
    wait_until(lambda: not os.path.exists(f"/proc/{writers[0]}")
               or "zombie" in open(f"/proc/{writers[0]}/status").read().lower(), 10)
    with sqlite3.connect(tmp_path / "history.sqlite3") as db:
        rows = db.execute("SELECT process, count(*) FROM flows GROUP BY process").fetchall()
    assert sum(n for _, n in rows) == 40 and len(rows) == 2, rows


def test_serve_imports_no_terminal_ui_libraries() -> None:
    """httpx's own command-line client would pull rich and pygments into every proxy (+6 MB)."""
    code = ("import sys\nimport ccm_tui.commands.serve, ccm_tui.proxy.server, httpx\n"
            "print(sorted({m.split('.')[0] for m, mod in sys.modules.items()"
            " if mod is not None and m.split('.')[0] in ('rich', 'pygments', 'textual')}))")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
