"""What claude sees, with the real CLI in the pane, launched the way ``ccm-tui`` launches it.

After the first answer claude's statusline (``--settings``) shows the routed ``provider,model``; on
versions whose gateway discovery works with non-essential traffic off (2.1.33x), ``/model`` lists the
configured models. Run it for another version with ``CCM_TEST_CLAUDE_BIN=…``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ccm_tui.claude_env import claude_env
from ccm_tui.claude_launch import launch_args, launch_env
from ccm_tui.config import load_config
from ccm_tui.events import EventBus
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.panes.claude import ClaudePane
from tests.conftest import CANARY_KEY
from tests.e2e.conftest import REPO
from tests.e2e.test_tui_real_claude import PROMPT, screen, wait_for
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e

ANSWER = "Pong from the fake upstream."
CONFIG = """\
[providers.anthropic]
type = "anthropic"
base_url = "{url}"
api_key = "$UPSTREAM_KEY"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]

[router]
default = "anthropic,claude-haiku-4-5"
"""
#: The statusline once the session was seen: route → target · spend · cache · context.
ROUTED_LINE = re.compile(r"⇢ default → anthropic,claude-haiku-4-5 · \$\d+\.\d\d · cache \d+% · ctx \d+(?:k)?/200k")


def version(claude: str) -> tuple[int, ...]:
    out = subprocess.run([claude, "--version"], capture_output=True, text=True, timeout=60).stdout
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", out.strip())
    return tuple(int(x) for x in match.groups()) if match else (0,)


async def test_statusline_and_model_picker(claude: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "theme": "dark",
        "projects": {str(project.resolve()): {"hasTrustDialogAccepted": True}},
    }))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("UPSTREAM_KEY", CANARY_KEY)
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the statusline command imports ccm_tui
    config_path = tmp_path / "config.toml"
    fake = FakeAnthropic()
    fake.default = Reply(text=ANSWER)
    with run_asgi(fake.app) as upstream:
        config_path.write_text(CONFIG.format(url=upstream))
        config = load_config(config_path)
        server = ProxyServer(config, EventBus(), host="127.0.0.1", port=0)
        server.start_in_thread()
        try:
            argv = [claude, *launch_args(config, [], project)]
            assert "--settings" in argv
            app = CcmApp(server, argv, claude_env(config, {**server.child_env(), **launch_env(config)}, embedded=True),
                         claude_cwd=str(project), embed=True, exit_grace=0)
            async with app.run_test(size=(240, 50)) as pilot:
                app.action_resize(30)  # a wide claude pane: the whole statusline fits
                pane = app.screen.query_one(ClaudePane)
                await wait_for(pilot, lambda: PROMPT.search(screen(pane)) is not None, "claude's prompt")
                await pilot.press(*"hello")
                await wait_for(pilot, lambda: "❯ hello" in screen(pane), "the typed prompt to echo", 20)
                await pilot.press("enter")
                await wait_for(pilot, lambda: ANSWER in screen(pane), "the upstream's answer in the pane")
                await wait_for(pilot, lambda: ROUTED_LINE.search(screen(pane)), "the statusline with the routed model")
                if version(claude) >= (2, 1, 300):
                    await pilot.press(*"/model")
                    await pilot.pause(0.5)
                    await pilot.press("enter")
                    await wait_for(pilot, lambda: "anthropic,claude-sonnet-4-5" in screen(pane),
                                   "/model to list the configured models")
                    # Picking one (this session only) routes the next turn to it as an override.
                    row = next(line for line in screen(pane).splitlines() if "anthropic,claude-sonnet-4-5" in line)
                    await pilot.press(re.search(r"(\d+)\.", row).group(1), "s")  # type: ignore[union-attr]
                    await wait_for(pilot, lambda: "Switch model?" in screen(pane) or PROMPT.search(screen(pane)),
                                   "the pick to take")
                    if "Switch model?" in screen(pane):  # 2.1.33x asks: the cached history is re-read
                        await pilot.press("enter")
                    await wait_for(pilot, lambda: PROMPT.search(screen(pane)) is not None, "the prompt again")
                    await pilot.press(*"again", "enter")
                    await wait_for(pilot, lambda: any(r["body"]["model"] == "claude-sonnet-4-5" for r in fake.requests),
                                   "a turn on the picked model")
                    await wait_for(pilot, lambda: "⇢ override → anthropic,claude-sonnet-4-5" in screen(pane),
                                   "the statusline to follow the pick")
                await pilot.press("f10")
                await wait_for(pilot, lambda: app.return_code is not None, "the app to quit", 15)
        finally:
            server.stop()
