"""The real claude's subagents name the subagent route's model once told (CLAUDE_CODE_SUBAGENT_MODEL), and the
router keeps them on the subagent route (the picker id leads to the same target)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ccm_tui.claude_launch import launch_env
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.proxy.server import ProxyServer
from tests.conftest import anthropic_config
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e


def test_subagents_name_the_subagent_route_model(claude: str, tmp_path: Path) -> None:
    fake = FakeAnthropic()
    fake.script = [Reply(text="", tool_use={"id": "toolu_1", "name": "Agent", "input": {
        "description": "look around", "prompt": "say hi", "subagent_type": "general-purpose"}})]
    finished = []
    with run_asgi(fake.app) as url:
        config = anthropic_config(url, extra='subagent = "anthropic,claude-haiku-4-5"\n')
        bus = EventBus()
        bus.subscribe(lambda event, flow: finished.append(flow) if event is FlowEvent.FINISHED else None)
        server = ProxyServer(config, bus, host="127.0.0.1", port=0)
        server.start_in_thread()
        try:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "IS_SANDBOX": "1",
                   "CLAUDE_CODE_MAX_RETRIES": "1", **server.child_env(), **launch_env(config, {})}
            done = subprocess.run([claude, "-p", "use an agent", "--allowedTools", "Agent", "--output-format", "json"],
                                  env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                                  stdin=subprocess.DEVNULL)
            assert done.stdout.strip(), f"claude printed nothing (exit {done.returncode}): {done.stderr[-1500:]}"
        finally:
            server.stop()
    subagents = [f for f in finished if f.route == "subagent"]
    assert subagents, [(f.route, f.requested_model) for f in finished]
    assert all(f.requested_model == "claude-ccm/anthropic,claude-haiku-4-5" for f in subagents)
    assert all(f.target == "anthropic,claude-haiku-4-5" for f in subagents)
