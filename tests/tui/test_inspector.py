"""The inspector: translated bodies and decision shown, every secret redacted; curl, export, replay."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from ccm_tui.tui.dialogs.text import TextModal
from ccm_tui.tui.screens.inspector import Inspector, ReplayView
from tests.conftest import CANARY_KEY

from .conftest import SIZE, send, wait_for


def screen_text(screen) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    for static in screen.query(Static):
        console.print(static.content)
    return console.export_text()


async def test_inspector_shows_bodies_with_secrets_redacted(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    token = server.token.reveal()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server, text=f"my key is {CANARY_KEY} and the token {token}")
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        app.screen.query_one("#requests-table").focus()
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, Inspector), pilot)
        await pilot.press("o")  # expand everything
        await pilot.pause()
        text = screen_text(app.screen)
        assert "Incoming Anthropic body" in text and "Sent upstream" in text
        assert "default → anthropic,claude-sonnet-4-5" in text
        assert '"model": "claude-sonnet-4-5"' in text  # the body actually sent upstream
        assert "my key is *** and the token ***" in text
        assert "content_block_delta" in text  # the stream's events
        assert CANARY_KEY not in text and token not in text
        # the upstream really got the canary (so the redaction above was not vacuous)
        assert CANARY_KEY in json.dumps(fake_anthropic.requests[-1]["body"])

        await pilot.press("c")
        await wait_for(lambda: isinstance(app.screen, TextModal), pilot)
        curl = app.clipboard
        assert curl.startswith("curl ") and "$ANTHROPIC_AUTH_TOKEN" in curl and "/v1/messages" in curl
        assert CANARY_KEY not in curl and token not in curl
        await pilot.press("escape")

        await pilot.press("e")
        await wait_for(_exports, pilot)  # written under $XDG_STATE_HOME/ccm-tui/exports
        lines = _exports()[0].read_text().splitlines()
        assert len(lines) == 1 and CANARY_KEY not in lines[0] and token not in lines[0]
        assert json.loads(lines[0])["upstream_body"]["model"] == "claude-sonnet-4-5"


def _exports() -> list[Path]:
    import os

    return sorted(Path(os.environ["XDG_STATE_HOME"]).glob("ccm-tui/exports/*.jsonl"))


async def test_replay_shows_both_answers_side_by_side(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.anthropic_server import Reply

    fake_anthropic.script = [Reply(text="first answer"), Reply(text="replayed answer")]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server)
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        app.inspect(app.store.at(0))
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press(*"haiku", "enter")
        await wait_for(lambda: isinstance(app.screen, ReplayView), pilot)
        await wait_for(lambda: "replayed answer" in screen_text(app.screen), pilot)
        text = screen_text(app.screen)
        assert "first answer" in text
        await wait_for(lambda: app.store.replays.requests == 1, pilot)  # its own line, not in the session
        assert app.store.session.requests == 1 and app.store.at(0).replay_of == app.store.at(1).id
        assert app.store.at(0).route == "override" and app.store.at(0).target == "anthropic,claude-haiku-4-5"
    assert fake_anthropic.requests[-1]["body"]["model"] == "claude-haiku-4-5"


async def test_inspector_of_a_live_stream_fills_in_when_it_ends(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from tests.fakes.anthropic_server import Reply

    fake_anthropic.script = [Reply(text=" ".join(f"w{i}" for i in range(30)), chunk_delay=0.05)]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        task = asyncio.create_task(send(server))
        await wait_for(lambda: len(app.store) == 1 and app.store.at(0).state == "streaming", pilot)
        app.inspect(app.store.at(0))
        await wait_for(lambda: isinstance(app.screen, Inspector), pilot)
        await wait_for(lambda: "state streaming" in screen_text(app.screen), pilot)
        await task
        await wait_for(lambda: "w29" in screen_text(app.screen), pilot)
        assert "state done" in screen_text(app.screen)


def test_summary_shows_notes_errors_and_headers_literally() -> None:
    """Notes quote the user's search and upstream errors: brackets in them are text, not markup."""
    from ccm_tui.flow import Attempt, Flow
    from ccm_tui.secrets import Redactor
    from ccm_tui.tui.screens.inspector import _kv, summary

    flow = Flow("POST", "/v1/messages", {})
    flow.notes.append("web search via web plugin: 'a [/] b [bold]c'")
    flow.attempts.append(Attempt("openai", "gpt-x", 0.0, status=500, error="bad [/x] thing"))
    flow.error, flow.state = "upstream said [red]no[/red]", "failed"
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(summary(flow))
    console.print(_kv(sorted(Redactor().headers({"x-odd": "[/] value"}).items())))
    text = console.export_text()
    assert "'a [/] b [bold]c'" in text
    assert "bad [/x] thing" in text and "upstream said [red]no[/red]" in text
    assert "[/] value" in text

    flow.error = f"upstream quoted the key {CANARY_KEY}"
    flow.notes.append(f"note with {CANARY_KEY}")
    flow.attempts[0].error = f"401 for {CANARY_KEY}"
    console = Console(width=300, file=io.StringIO(), record=True, color_system=None)
    console.print(summary(flow, Redactor([CANARY_KEY])))
    text = console.export_text()
    assert CANARY_KEY not in text and "upstream quoted the key ***" in text and "401 for ***" in text


async def test_route_picker_echoes_brackets_literally(make_app) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Label

    from ccm_tui.tui.dialogs.route_picker import RoutePicker

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RoutePicker("Route 'x' → ? (now: p,[m])", ["anthropic,m[free]"], None))
        await wait_for(lambda: isinstance(app.screen, RoutePicker) and app.screen.query("#picker-list"), pilot)
        assert str(app.screen.query_one("#picker-title", Label).render()) == "Route 'x' → ? (now: p,[m])"
        await pilot.press(*",[/]", "enter")
        await pilot.pause()
        assert "',[/]' is not of the form" in str(app.screen.query_one("#picker-error", Label).render())
