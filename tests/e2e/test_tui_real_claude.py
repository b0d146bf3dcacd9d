"""The real Claude Code CLI inside the TUI's claude pane → embedded proxy → a fake Anthropic upstream.

Built the way ``ccm_tui.commands.tui`` builds it (same child env, claude spawned before the app, same
app arguments); only HOME is a temporary one whose ``.claude.json`` skips the first-run dialogs. The
outer terminal is a 256-colour one: claude must be told so and draw with palette colours, as it does
when run directly there.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ccm_tui import flow as flow_module
from ccm_tui.claude_env import claude_env
from ccm_tui.commands.tui import spawn_for_pane
from ccm_tui.config import load_config
from ccm_tui.events import EventBus
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.panes.claude import ClaudePane
from ccm_tui.tui.panes.requests import RequestsTable
from tests.conftest import CANARY_KEY
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e

ROUTED = "claude-haiku-4-5"  # not what claude asks for: the upstream seeing it proves the routing
ANSWER = "Pong from the fake upstream, routed by ccm-tui."
CONFIG = """\
[providers.anthropic]
type = "anthropic"
base_url = "{url}"
api_key = "$UPSTREAM_KEY"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]

[router]
default = "anthropic,{routed}"
background = "anthropic,claude-sonnet-4-5"
"""


async def wait_for(pilot, predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            panes = pilot.app.screen.query(ClaudePane)
            shown = screen(panes.first()) if panes else "(no claude pane)"
            raise AssertionError(f"timed out ({timeout:.0f} s) waiting for {what}; claude's screen:\n{shown}")
        await pilot.pause(0.1)


#: claude's input line: "❯" at the start of a line, under a horizontal rule (2.1.197 and 2.1.33x alike).
PROMPT = re.compile(r"─{20,}\s*\n\s*❯")


def screen(pane: ClaudePane) -> str:
    return "\n".join(pane.emulator.display).replace("\xa0", " ")  # claude's prompt is "❯" + NBSP


def truecolor_cells(pane: ClaudePane) -> list[tuple[int, int]]:
    emu = pane.emulator
    return [(x, y) for y in range(emu.lines) for x in range(emu.columns)
            if any(isinstance(c, str) and c.startswith("#") for c in (emu.cell(x, y).fg, emu.cell(x, y).bg))]


def table_lines(table: RequestsTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def test_real_claude_in_the_pane(claude: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "theme": "dark",
        "projects": {str(project.resolve()): {"hasTrustDialogAccepted": True}},
    }))
    monkeypatch.setenv("HOME", str(home))  # claude_env() passes the environment on, like `ccm-tui` does
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("UPSTREAM_KEY", CANARY_KEY)
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "1")
    monkeypatch.setattr(flow_module, "_ids", itertools.count(1))  # ids as in a fresh process, whatever ran before
    monkeypatch.setenv("TERM", "xterm-256color")  # the outer terminal: 256 colours, no COLORTERM
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("TEXTUAL_COLOR_SYSTEM", raising=False)
    config_path = tmp_path / "config.toml"

    fake = FakeAnthropic()
    fake.default = Reply(text=ANSWER)
    with run_asgi(fake.app) as upstream:
        config_path.write_text(CONFIG.format(url=upstream, routed=ROUTED))
        config = load_config(config_path)
        server = ProxyServer(config, EventBus(), host="127.0.0.1", port=0)
        server.start_in_thread()
        try:
            env = claude_env(config, server.child_env(), embedded=True)
            session = spawn_for_pane([claude], env, str(project))
            assert session is not None
            app = CcmApp(server, [claude], env, claude_cwd=str(project), embed=True, exit_grace=0,
                         claude_session=session)
            async with app.run_test(size=(160, 45)) as pilot:
                pane = app.screen.query_one(ClaudePane)
                await wait_for(pilot, lambda: pane.session is not None and pane.session.pid is not None,
                               "claude to start")
                assert pane.session is not None and pane.session.pid is not None
                pgid = pane.session.pid
                await wait_for(pilot, lambda: PROMPT.search(screen(pane)) is not None,
                               "claude's prompt")
                assert app.focused is pane and pane.session is session
                assert app.console.color_system == "256"
                assert not truecolor_cells(pane), "claude drew true colour in a 256-colour terminal"
                await pilot.press(*"hello")
                await wait_for(pilot, lambda: "❯ hello" in screen(pane), "the typed prompt to echo", 20)
                row = screen(pane).splitlines().index(next(line for line in screen(pane).splitlines()
                                                          if "❯ hello" in line))
                col = screen(pane).splitlines()[row].index("❯ hello") + len("❯ hello")
                region = pane.content_region  # the terminal's real cursor: right after what was typed
                await wait_for(pilot, lambda: app.cursor_position == (region.x + col, region.y + row),
                               f"the real cursor at {(col, row)} (it is at {app.cursor_position - region.offset})", 10)
                await pilot.press("enter")
                await wait_for(pilot, lambda: ANSWER in screen(pane), "the upstream's answer in the pane")

                def main_flows() -> list:
                    return [app.store.at(i) for i in range(len(app.store))
                            if app.store.at(i).kind == "messages" and (app.store.at(i).request_body or {}).get("tools")]

                await wait_for(pilot, lambda: any(f.state == "done" for f in main_flows()), "the main request row")
                main = [f for f in main_flows() if f.state == "done"][0]
                assert main.route == "default" and main.target == f"anthropic,{ROUTED}", main.decision
                table = app.screen.query_one(RequestsTable)
                row = f"#{main.id}"  # the rendered row starts with the id
                await wait_for(pilot, lambda: any(line.startswith(str(main.id) + " ") and "default" in line
                                                  and f"anthropic,{ROUTED}" in line and "200" in line
                                                  for line in table_lines(table)), f"row {row} on screen", 10)
                sent = [r for r in fake.requests if r["body"].get("tools")]
                assert sent and all(r["body"]["model"] == ROUTED for r in sent)
                assert all(r["headers"].get("x-api-key") == CANARY_KEY for r in sent)
                assert pane.exit_code is None  # claude is still running: F10 has to end it
                await pilot.press("f10")
                await wait_for(pilot, lambda: app.return_code is not None, "the app to quit", 15)
            assert pane.exit_code is not None and not pane.session.running
            deadline = time.monotonic() + 10
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not group_alive(pgid), "claude's process group outlived the app"
        finally:
            server.stop()
