"""The real Claude Code CLI → `ccm-tui serve` → a fake Anthropic upstream, and back."""

from __future__ import annotations

import pytest

from tests.conftest import CANARY_KEY
from tests.e2e.conftest import one_provider_config, run_claude
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e


def test_claude_print_mode_through_serve(claude, serve, tmp_path) -> None:
    fake = FakeAnthropic()
    fake.default = Reply(text="pong from the fake upstream")
    with run_asgi(fake.app) as upstream:
        handle = serve(one_provider_config("anthropic", "anthropic", upstream, "claude-sonnet-4-5", "UPSTREAM_KEY"),
                       env={"UPSTREAM_KEY": CANARY_KEY})
        result = run_claude(claude, handle.base_url, handle.token, "say pong", tmp_path / "home")
        lines = handle.read_lines(1)
    assert result["is_error"] is False, result
    assert result["result"] == "pong from the fake upstream"
    main = [r for r in fake.requests if r["body"].get("tools")]
    assert main, "claude's main request reached the upstream"
    assert main[0]["body"]["model"] == "claude-sonnet-4-5"
    assert main[0]["headers"]["x-api-key"] == CANARY_KEY
    assert main[0]["body"]["stream"] is True
    assert any("default" in line and "anthropic,claude-sonnet-4-5" in line and " 200 " in line for line in lines), lines
    assert all(CANARY_KEY not in line for line in lines)
