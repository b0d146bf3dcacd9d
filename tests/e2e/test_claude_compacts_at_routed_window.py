"""The real claude compacts at the routed model's window once ccm-tui tells it (CLAUDE_CODE_AUTO_COMPACT_WINDOW).

Four ``-p --continue`` turns of ~25k tokens each; the fake upstream reports usage the size of what it
got, as a real model would. Told the routed 128k window, claude compacts (the next request's history
shrinks to a summary); left to its built-in window (200k or 1M), it does not. Seen in the requests it sends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from ccm_tui.claude_launch import launch_env
from ccm_tui.config import parse_config
from ccm_tui.events import EventBus
from ccm_tui.proxy.server import ProxyServer
from tests.conftest import CANARY_KEY
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e

CONFIG = """
[providers.anthropic]
type = "anthropic"
base_url = "{url}"
api_key = "$UPSTREAM_KEY"
models = ["claude-sonnet-4-5", "small-window-model"]

[providers.anthropic.limits]
"small-window-model" = {{ context_window = 128000, max_output_tokens = 8000 }}

[router]
default = "anthropic,small-window-model"
"""
CHUNK = "note: the quick brown fox jumps over the lazy dog\n" * 2_000  # ~25k tokens by claude's estimate
TURNS = 5  # four chunks bring the context to ~105k: above 95k (128k window), far below 167k (200k window)


class SizedFake(FakeAnthropic):
    """Reports input tokens as ~4 characters each of what it was sent (claude's own estimate)."""

    def next_reply(self) -> Reply:
        body = self.requests[-1]["body"]
        tokens = len(json.dumps(body.get("messages", ""))) // 4 + len(json.dumps(body.get("system", ""))) // 4
        return Reply(text="Noted.", usage={"input_tokens": tokens, "output_tokens": 3})


def run_turns(claude: str, tmp_path: Path, told: bool) -> tuple[list[dict], list[str]]:
    fake = SizedFake()
    with run_asgi(fake.app) as url:
        config = parse_config(CONFIG.format(url=url), env={"UPSTREAM_KEY": CANARY_KEY})
        server = ProxyServer(config, EventBus(), host="127.0.0.1", port=0)
        server.start_in_thread()
        try:
            home = tmp_path / ("told" if told else "plain")
            home.mkdir()
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "IS_SANDBOX": "1",
                   "CLAUDE_CODE_MAX_RETRIES": "1", **server.child_env()}
            if told:
                env.update(launch_env(config, {}))
            for turn in range(TURNS):
                prompt = f"Part {turn}: please remember these notes.\n{CHUNK}" if turn < TURNS - 1 else "Done?"
                extra = ["--continue"] if turn else []
                done = subprocess.run([claude, "-p", "--output-format", "json", "--debug", *extra], input=prompt, env=env,
                                      cwd=home, capture_output=True, text=True, timeout=240)
                assert done.stdout.strip(), f"claude printed nothing (exit {done.returncode}): {done.stderr[-1500:]}"
        finally:
            server.stop()
    log = "".join(p.read_text(errors="replace") for p in (home / ".claude" / "debug").glob("*.txt"))
    return [r["body"] for r in fake.requests if r["body"].get("messages")], re.findall(r"(?:autocompact: |Reactive compact: |source=compact).*", log)


def compacted(bodies: list[dict]) -> bool:
    """Whether the conversation claude sends ever shrinks: compaction replaced its history by a summary."""
    sizes = [len(b["messages"]) for b in bodies]
    return any(later < earlier for earlier, later in zip(sizes, sizes[1:], strict=False))


def test_claude_compacts_at_the_routed_window(claude: str, tmp_path: Path) -> None:
    told, told_log = run_turns(claude, tmp_path, told=True)
    # claude's own debug log: the window it works with is the routed one (128k less its 20k output reserve)...
    assert told_log and all("effectiveWindow=108000" in line for line in told_log if "effectiveWindow" in line)
    assert any("level=compact" in line or "level=blocked" in line for line in told_log), told_log
    sizes = [len(b["messages"]) for b in told]
    # ...and the requests: the history shrinks to a summary. 2.1.33x in -p mode decides to compact but
    # bails ("no assistant messages in summarize set"), so only the decision is checked there.
    sent = any(line.startswith("source=compact") for line in told_log)
    assert sent or any("no assistant messages in summarize set" in line for line in told_log), told_log
    if sent:
        assert compacted(told), f"told a 128k window, claude should have compacted; messages per request: {sizes}"
    plain, plain_log = run_turns(claude, tmp_path, told=False)
    assert not any("level=compact" in line or "level=blocked" in line for line in plain_log), plain_log
    sizes = [len(b["messages"]) for b in plain]
    assert not compacted(plain), f"with its built-in window claude should not compact yet: {sizes}"
