"""claude's lifecycle (embedded pane and --no-embed) with a fake claude, and a burst of flow events."""

from __future__ import annotations

import argparse
import threading
import time

from ccm_tui.commands.tui import run as run_tui
from ccm_tui.events import FlowEvent
from ccm_tui.flow import Decision, Flow
from ccm_tui.tui.panes.claude import ClaudePane

from .conftest import SIZE, wait_for


def pane_text(pane: ClaudePane) -> str:
    return "\n".join(pane.emulator.display)


async def test_embedded_fake_claude_output_rows_and_exit_code(make_app, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    app = make_app(["--requests", "2", "--interactive", "--exit", "3"])
    async with app.run_test(size=SIZE) as pilot:
        pane = app.screen.query_one(ClaudePane)
        await wait_for(lambda: app.store.session.requests == 2, pilot)
        await wait_for(lambda: "answer 2: Hello from the fake upstream." in pane_text(pane), pilot)
        assert app.focused is pane
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: "you typed: hi" in pane_text(pane), pilot)
        await wait_for(lambda: app.store.session.requests == 3, pilot)
        await pilot.press(*"exit", "enter")
        await wait_for(lambda: app.return_code is not None, pilot)
    assert app.return_code == 3
    assert [r["body"]["model"] for r in fake_anthropic.requests] == ["claude-sonnet-4-5"] * 3


async def test_keep_open_leaves_the_dashboard(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(["--requests", "0", "--exit", "5"], keep_open=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.claude_exit_code == 5, pilot)
        await pilot.pause(0.2)
        assert app.return_code is None and app.is_running
        await pilot.press("f10")
        await wait_for(lambda: app.return_code is not None, pilot)
    assert app.return_code == 5


async def test_no_embed_runs_claude_as_a_subprocess(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(["--requests", "1", "--exit", "4"], embed=False, keep_open=True)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.screen.query(ClaudePane)
        await wait_for(lambda: app.claude_exit_code == 4, pilot, timeout=15)
        await wait_for(lambda: app.store.session.requests == 1, pilot)  # the proxy kept serving
        await pilot.press("f10")
    assert app.return_code == 4


async def test_burst_of_events_keeps_every_record(make_app, server) -> None:  # type: ignore[no-untyped-def]
    """~100 requests/s of events from another thread: nothing lost, history bounded, UI responsive."""
    app = make_app(history=100)
    total = 300

    def publish() -> None:
        for i in range(total):
            flow = Flow("POST", "/v1/messages", {}, {"model": "m"})
            flow.decision = Decision("default", "anthropic", "claude-sonnet-4-5", "test")
            for event in (FlowEvent.CREATED, FlowEvent.ROUTED, FlowEvent.FIRST_BYTE):
                server.bus.publish(event, flow)
            flow.usage.output_tokens = i
            flow.status, flow.state, flow.duration_ms = 200, "done", 10.0
            server.bus.publish(FlowEvent.FINISHED, flow)
            if i % 10 == 9:
                time.sleep(0.1)

    async with app.run_test(size=SIZE) as pilot:
        thread = threading.Thread(target=publish)
        started = time.monotonic()
        thread.start()
        while thread.is_alive() and time.monotonic() - started < 20:
            await pilot.press("down")  # the UI keeps answering keys during the burst
        thread.join(5)
        await wait_for(lambda: app.store.session.requests == total, pilot)
        assert len(app.store) == 100 and app.store.dropped == total - 100 and app.store.seen == total
        assert app.store.session.output_tokens == sum(range(total))
        await pilot.pause(0.3)
        assert "200 older dropped from view" in str(app.screen.query_one("#requests").border_subtitle)


def test_missing_claude_binary_is_a_clear_message(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = argparse.Namespace(config=None, claude_bin=str(tmp_path / "nope"), no_embed=False, keep_open=False,
                              claude_args=[])
    assert run_tui(args) == 127
    err = capsys.readouterr().err
    assert "cannot find the claude executable" in err and "Traceback" not in err


async def test_no_embed_waits_for_a_key_after_claude_exits(make_app) -> None:  # type: ignore[no-untyped-def]
    from ccm_tui.tui.dialogs.exit_countdown import ExitCountdown

    app = make_app(["--requests", "0", "--exit", "2"], embed=False, exit_grace=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.claude_exit_code == 2, pilot, timeout=15)
        await wait_for(lambda: isinstance(app.screen, ExitCountdown), pilot)
        await pilot.pause(1.0)  # well past any grace period
        assert app.is_running and app.return_code is None, "the dashboard stays until a key"
        await pilot.press("x")
        await wait_for(lambda: app.return_code is not None, pilot)
    assert app.return_code == 2
