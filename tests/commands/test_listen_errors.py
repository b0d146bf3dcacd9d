"""A taken port is a one-line error naming host:port and exit 2, from `serve` and from the TUI command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", [["serve"], ["--claude-bin", "/bin/true"]])
def test_taken_port_is_reported_not_a_traceback(tmp_path: Path, command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = tmp_path / "config.toml"
        config.write_text(f"""
[server]
port = {port}

[providers.anthropic]
type = "anthropic"
models = ["claude-sonnet-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
""")
        done = subprocess.run([sys.executable, "-m", "ccm_tui", *command, "--config", str(config)],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "CCM_LOG_FILE": str(tmp_path / "log")})
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}:" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreadable_config_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ccm_tui", "config", "check", "--config", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{tmp_path}: cannot read:" in done.stdout and "Traceback" not in done.stderr
