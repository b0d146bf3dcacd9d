"""Helpers for end-to-end tests: `ccm-tui serve` as a real subprocess, and the real claude CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: serve's first line; with auth = "client" the token comes as claude's custom header instead
_LINE = re.compile(r"ANTHROPIC_BASE_URL=(\S+) (?:ANTHROPIC_AUTH_TOKEN=(\S+)|ANTHROPIC_CUSTOM_HEADERS='x-ccm-token: (\S+)')")


def one_provider_config(name: str, kind: str, base_url: str, model: str, key_var: str) -> str:
    """A serve config with one provider whose only model is the default route."""
    return f"""
[providers.{name}]
type = "{kind}"
base_url = "{base_url}"
api_key = "${key_var}"
models = ["{model}"]

[router]
default = "{name},{model}"
"""


def claude_bin() -> str | None:
    """$CCM_TEST_CLAUDE_BIN, the copy .ci/run installs, or `claude` on PATH."""
    for candidate in (os.environ.get("CCM_TEST_CLAUDE_BIN"), str(REPO / ".cache/claude-cli/node_modules/.bin/claude"),
                      shutil.which("claude")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
def claude() -> str:
    path = claude_bin()
    if path is None:
        message = "real claude CLI not found: `npm install --prefix .cache/claude-cli @anthropic-ai/claude-code`"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must install it)")
        pytest.skip(message)
    return path


@dataclass
class Serve:
    process: subprocess.Popen
    base_url: str
    token: str
    lines: list[str]

    def read_lines(self, count: int, timeout: float = 10.0) -> list[str]:
        """Wait (bounded) until serve has printed ``count`` request lines."""
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while len(self.lines) < count and time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
        return self.lines


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Start `python -m ccm_tui serve --config FILE` and parse the URL/token line it prints."""
    running: list[Serve] = []

    def start(config_text: str, env: dict[str, str] | None = None) -> Serve:
        config = tmp_path / "config.toml"
        config.write_text(config_text)
        full_env = {**os.environ, "CCM_LOG_FILE": str(tmp_path / "ccm.log"), **(env or {})}
        process = subprocess.Popen(
            [sys.executable, "-m", "ccm_tui", "serve", "--config", str(config), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, cwd=REPO,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        match = _LINE.search(first)
        if not match:
            process.kill()
            raise AssertionError(f"serve printed {first!r}; stderr: {process.stderr.read()}")  # type: ignore[union-attr]
        handle = Serve(process, match.group(1), match.group(2) or match.group(3), [])
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.process.terminate()
        try:
            handle.process.wait(10)
        except subprocess.TimeoutExpired:
            handle.process.kill()


def run_claude(binary: str, base_url: str, token: str, prompt: str, home: Path, *extra: str,
               timeout: float = 180) -> dict:
    """`claude -p PROMPT --output-format json` offline against ``base_url``; returns the JSON result."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": token, "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1", "IS_SANDBOX": "1",
    }
    done = subprocess.run([binary, "-p", prompt, "--output-format", "json", *extra], env=env, cwd=home,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.stdout.strip(), f"claude printed nothing (exit {done.returncode}); stderr: {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])
