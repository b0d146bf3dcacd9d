"""A configuration error no retry can fix (a provider without a key) reaches the real claude as an error
it does not retry: one request, then claude stops and says why (instead of "Retrying … attempt 7/10")."""

from __future__ import annotations

import os
import subprocess

import pytest

pytestmark = pytest.mark.e2e

NO_KEY = """
[providers.anthropic]
type = "anthropic"
base_url = "http://127.0.0.1:9"
models = ["claude-sonnet-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
"""


def test_missing_key_is_not_retried_by_claude(claude, serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    handle = serve(NO_KEY)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "IS_SANDBOX": "1",
           "ANTHROPIC_BASE_URL": handle.base_url, "ANTHROPIC_AUTH_TOKEN": handle.token, "DISABLE_TELEMETRY": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}  # claude's own retry policy: 10 attempts
    try:
        done = subprocess.run([claude, "-p", "hi"], env=env, cwd=home, capture_output=True, text=True, timeout=240,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("claude kept retrying a request no retry can fix")
    handle.process.terminate()
    lines = handle.process.communicate(timeout=20)[0].splitlines()
    assert done.returncode != 0
    assert "provider 'anthropic' has no API key" in done.stdout + done.stderr
    assert len([line for line in lines if " 401 " in line]) == 1, lines
