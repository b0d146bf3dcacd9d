"""Keys: a burst of F-keys is handled key by key; q and ? in the dashboard."""

from __future__ import annotations

from textual import events

from ccm_tui.tui.panes.providers import ProvidersPane
from ccm_tui.tui.panes.requests import RequestsTable
from ccm_tui.tui.panes.tokens import TokensPane

from .conftest import SIZE, wait_for


async def test_a_burst_of_f_keys_is_each_handled(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(["--interactive"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.focused is app._claude_pane(), pilot)
        for key in ("f2", "f6", "f6"):  # as one read from the terminal: no processing in between
            app.post_message(events.Key(key, None))
        await pilot.pause(0.3)
        assert isinstance(app.focused, TokensPane), app.focused
        for key in ("f6", "f6", "f6"):
            app.post_message(events.Key(key, None))
        await pilot.pause(0.3)
        assert isinstance(app.focused, ProvidersPane), app.focused


async def test_q_quits_and_question_mark_helps_in_the_dashboard(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one(RequestsTable).focus()
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert "help" in type(app.screen).__name__.lower() or app.screen is not app.screen_stack[0]
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause(0.3)
    assert app.return_code == 0 and not app.is_running


async def test_zoom_on_a_small_pane_fills_the_screen_with_the_pane(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for pane_type in (ProvidersPane, TokensPane):
            app.focus_now(app.screen.query_one(pane_type))
            await pilot.press("f3")
            await pilot.pause(0.2)
            pane = app.screen.query_one(pane_type)
            assert app.screen.maximized is pane
            assert pane.region.height >= SIZE[1] - 3, pane.region  # not a small box amid hatching
            await pilot.press("f3")
            await pilot.pause(0.2)
            assert app.screen.maximized is None and pane.region.height < SIZE[1] // 2


async def test_claude_width_and_the_focused_pane_persist_across_runs(make_app) -> None:  # type: ignore[no-untyped-def]
    from ccm_tui.tui.ui_state import load_ui_state

    app = make_app(["--interactive"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.focused is app._claude_pane(), pilot)
        await pilot.press("f8", "f8", "f2", "f6")
        await pilot.pause(0.2)
        assert isinstance(app.focused, ProvidersPane) and app.claude_width == 60
        await pilot.press("f10")
        await pilot.pause(0.3)
    assert load_ui_state().claude_width == 60 and load_ui_state().focus == "providers"
    again = make_app(["--interactive"])
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert again.claude_width == 60 and isinstance(again.focused, ProvidersPane)
        box = again.screen.query_one("#claude-box")
        assert box.region.width >= SIZE[0] * 0.55
