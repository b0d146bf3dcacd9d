"""A past session from the SQLite history, opened read-only in the dashboard: same panes, inspector, replay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ccm_tui.config import HistorySettings
from ccm_tui.events import EventBus
from ccm_tui.history.sqlite import SQLiteStore
from ccm_tui.history.store import flow_of
from ccm_tui.history.writer import open_history
from ccm_tui.tui.past import past_session_app
from ccm_tui.tui.screens.inspector import ReplayView
from ccm_tui.tui.screens.main import status_text
from tests.fakes.anthropic_server import Reply
from tests.tui.conftest import SIZE, send, wait_for
from tests.tui.test_inspector import screen_text

REPO = Path(__file__).resolve().parents[2]


async def test_a_recorded_session_opens_with_its_flows_and_any_request_replays(server, fake_anthropic,  # type: ignore[no-untyped-def]
                                                                               tmp_path: Path) -> None:
    bus = EventBus()
    server.bus.subscribe(lambda event, flow: bus.publish(event, flow))
    writer = open_history(HistorySettings(path=str(tmp_path / "h.db")), bus, server.redactor)
    assert writer is not None
    fake_anthropic.script = [Reply(text="the recorded answer"), Reply(text="a title"), Reply(text="answered again")]
    await send(server, text="what was asked")
    await send(server, "claude-haiku-4-5", text="a title", system="title")
    for _ in range(200):
        if writer.written == 2:
            break
        await __import__("asyncio").sleep(0.05)
    writer.close()
    records = list(SQLiteStore(tmp_path / "h.db").records(since=0, session="unknown", with_bodies=True))
    app = past_session_app(server, [flow_of(r) for r in records], "unknown")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "past session unknown (read-only" in status_text(app).plain
        assert len(app.store) == 2 and app.store.session.requests == 2
        recorded = app.store.at(1)
        assert recorded.request_body["messages"][0]["content"] == "what was asked"
        assert any(n.startswith("recorded as #") for n in recorded.notes)
        app.inspect(recorded)
        await pilot.pause()
        assert "the recorded answer" in screen_text(app.screen)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press(*"haiku", "enter")
        await wait_for(lambda: isinstance(app.screen, ReplayView), pilot)
        await wait_for(lambda: "answered again" in screen_text(app.screen), pilot)
    assert fake_anthropic.requests[-1]["body"]["messages"][0]["content"] == "what was asked"


def test_open_needs_a_session(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    db = tmp_path / "h.db"
    SQLiteStore(db).close()
    config.write_text(f'[providers.a]\ntype = "anthropic"\napi_key = "k"\n[router]\ndefault = "a,m"\n'
                      f'[history]\npath = "{db}"\n')
    out = subprocess.run([sys.executable, "-m", "ccm_tui", "history", "--config", str(config), "--open"],
                         capture_output=True, text=True, timeout=60, cwd=REPO,
                         env={**os.environ, "CCM_LOG_FILE": str(tmp_path / "log")})
    assert out.returncode == 2 and "--open needs --session" in out.stderr
