"""Inspector for debugging translation: the upstream's raw answer beside what claude got, and `/` search."""

from __future__ import annotations

from textual.widgets import Collapsible

from ccm_tui.tui.screens.inspector import Inspector
from tests.conftest import CANARY_KEY

from .conftest import SIZE, send, wait_for


async def test_raw_upstream_stream_beside_the_events_sent_and_search(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.anthropic_server import Reply

    fake_anthropic.script = [Reply(text=f"zebrafox {CANARY_KEY}")]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server, text="hi")
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        flow = app.store.at(0)
        assert b"event: message_start" in flow.upstream_raw and b"zebrafox" in flow.upstream_raw
        assert CANARY_KEY.encode() not in flow.upstream_raw, "the provider's key is scrubbed from what is kept"
        app.inspect(flow)
        await wait_for(lambda: isinstance(app.screen, Inspector) and app.screen.query("#sec-raw"), pilot)
        raw = app.screen.query_one("#sec-raw", Collapsible)
        assert "event: message_start" in raw.search_text and "sent to claude" in str(raw.query(".raw-side")[1].border_title)
        await pilot.press("slash", *"zebrafox", "enter")
        await pilot.pause(0.2)
        opened = {c.id for c in app.screen.query(Collapsible) if not c.collapsed}
        assert "sec-raw" in opened and "sec-in" not in opened, opened
        await pilot.press("escape")  # closes the search box, not the inspector
        await pilot.pause()
        assert isinstance(app.screen, Inspector)


async def test_raw_upstream_error_body_is_kept(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.anthropic_server import Reply

    fake_anthropic.script = [Reply(status=400, error_body={"type": "error", "error": {
        "type": "invalid_request_error", "message": "upstream says no"}})]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server, stream=False)
        await wait_for(lambda: len(app.store) == 1 and app.store.at(0).state == "failed", pilot)
        assert b"upstream says no" in app.store.at(0).upstream_raw


async def test_curl_is_never_wrapped_says_where_it_went_and_saves_a_runnable_file(make_app, server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat
    import subprocess
    from pathlib import Path

    from ccm_tui.tui.dialogs.text import TextModal

    monkeypatch.setenv("TMUX", "/tmp/none,1,0")  # inside tmux, whose set-clipboard cannot be read here
    monkeypatch.setenv("PATH", "/nonexistent")  # no clipboard tool, no tmux
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await send(server, text="a long prompt " * 20)
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        app.copy_curl(app.store.at(0))
        await wait_for(lambda: isinstance(app.screen, TextModal) and app.screen.query("#text-modal-command"), pilot)
        body = str(app.screen.query_one("#text-modal-body").render())
        assert "not copied: tmux's set-clipboard" in body and "NOT copied" in app.screen.title_text
        command = app.screen.query_one("#text-modal-command")
        lines = str(command.render()).splitlines()
        assert command.region.width >= max(map(len, lines)) > 100, "the command is not wrapped: it scrolls sideways"
        assert command.region.height <= len(lines) + 1
        path = Path(body.split("sh ", 1)[1].split("\n", 1)[0])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = server.token.reveal()
        assert token in path.read_text() and token not in str(command.render())
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    done = subprocess.run(["sh", str(path)], capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert '"type":"message"' in done.stdout.replace(" ", ""), done.stdout + done.stderr
