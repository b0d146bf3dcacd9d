"""A pin or route switch that changes the default model's window says claude needs a restart; F12 restarts it
with --continue and tells it the new window (fake claude in the pane)."""

from __future__ import annotations

from ccm_tui.tui.panes.claude import ClaudePane

from .conftest import SIZE, wait_for


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


async def test_window_change_notice_and_restart_with_continue(make_app, server,
                                                              config_file) -> None:  # type: ignore[no-untyped-def]
    config_file.write_text(config_file.read_text()
                           + '\n[providers.anthropic.limits]\n"claude-opus-4-1" = { context_window = 128000 }\n')
    assert server.command(lambda session: session.reload("test")).result(10)  # a reload brings the limit in
    app = make_app(["--interactive"])
    async with app.run_test(size=SIZE) as pilot:
        first = app.screen.query_one(ClaudePane)
        await wait_for(lambda: first.session is not None and first.session.running, pilot)
        assert app.told_window == 200_000
        app.set_pin("anthropic,claude-haiku-4-5")  # same 200k window: nothing to say
        await wait_for(lambda: app.pinned == "anthropic,claude-haiku-4-5", pilot)
        await pilot.pause()
        assert not any("Restart claude" in n for n in notices(app))
        app.set_pin("anthropic,claude-opus-4-1")
        await wait_for(lambda: any("Restart claude" in n for n in notices(app)), pilot)
        assert any("compacts at 200k" in n and "128k" in n and "Restart claude" in n for n in notices(app))
        await pilot.press("f12")
        await wait_for(lambda: app.screen.query(ClaudePane).first() is not first, pilot)
        second = app.screen.query_one(ClaudePane)
        await wait_for(lambda: second.session is not None and second.session.running, pilot)
        assert second.argv[-1] == "--continue" and second.argv.count("--continue") == 1
        assert second.env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "128000"
        assert app.told_window == 128_000
        await pilot.pause(0.5)
        assert app.return_code is None and app.claude_exit_code is None  # the old claude's end is not an exit
        assert first.session is None or not first.session.running
