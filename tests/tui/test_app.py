"""The dashboard against the real proxy and a fake Anthropic upstream, driven by Textual's pilot."""

from __future__ import annotations

from pathlib import Path

from ccm_tui.tui.panes.requests import layout_row, row_cells
from ccm_tui.tui.panes.routes import RoutesTable

from .conftest import SIZE, send, wait_for


def rendered_rows(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [layout_row(row_cells(app.store.at(i)), 120).plain for i in range(len(app.store))]


async def test_rows_appear_with_route_and_model(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert (await send(server)).status_code == 200
        assert (await send(server, "claude-haiku-4-5", stream=False)).status_code == 200
        await wait_for(lambda: app.store.session.requests == 2, pilot)
        rows = rendered_rows(app)
        assert "background" in rows[0] and "anthropic,claude-haiku-4-5" in rows[0] and "200" in rows[0]
        assert "default" in rows[1] and "anthropic,claude-sonnet-4-5" in rows[1]
        # the highlighted (newest) row's route reason is shown under the table
        await pilot.pause(0.2)
        reason = str(app.screen.query_one("#requests-reason").render())
        assert "background" in reason
        assert app.store.providers["anthropic"].totals.requests == 2


async def test_route_switch_changes_next_request_and_file(make_app, server, config_file: Path,
                                                          fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        assert isinstance(app.focused, RoutesTable)
        await pilot.press("f4")  # picker for the highlighted route: default
        await pilot.pause()
        await pilot.press(*"opus", "enter")
        await wait_for(lambda: app.config.router.routes["default"] == "anthropic,claude-opus-4-1", pilot)
        assert (await send(server)).status_code == 200
        await wait_for(lambda: app.store.session.requests == 1, pilot)
    assert fake_anthropic.requests[-1]["body"]["model"] == "claude-opus-4-1"
    text = config_file.read_text()
    assert 'default = "anthropic,claude-opus-4-1"' in text
    assert "# my ccm-tui config (this comment must survive route switches)" in text
    assert "# titles and summaries" in text and "# the canary" in text


async def test_pin_sends_everything_to_one_model_until_unpinned(make_app, server, fake_anthropic,
                                                                config_file: Path) -> None:  # type: ignore[no-untyped-def]
    before = config_file.read_text()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        await pilot.press(*"opus", "enter")
        await wait_for(lambda: app.pinned == "anthropic,claude-opus-4-1", pilot)
        await send(server, "claude-haiku-4-5")
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        assert app.store.at(0).route == "pinned"
        assert fake_anthropic.requests[-1]["body"]["model"] == "claude-opus-4-1"
        await pilot.press("f5")  # unpin
        await wait_for(lambda: app.pinned is None, pilot)
        await send(server, "claude-haiku-4-5")
        await wait_for(lambda: app.store.session.requests == 2, pilot)
        assert fake_anthropic.requests[-1]["body"]["model"] == "claude-haiku-4-5"
    assert config_file.read_text() == before  # a pin is never written


async def test_palette_runs_the_actions_and_help_lists_every_key(make_app) -> None:  # type: ignore[no-untyped-def]
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    from ccm_tui.tui.app import CcmApp
    from ccm_tui.tui.commands import entries
    from ccm_tui.tui.dialogs.route_picker import RoutePicker

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = [entry.title for entry in entries(app)]
        for expected in ("this help: keys, proxy URL, config and log file", "zoom the focused pane to the whole "
                         "screen and back", "Replay request", "Copy request as curl", "Export session JSONL",
                         "Route: set default", "Token counts one by one / collapsed"):
            assert expected in titles
        await pilot.press("f9")
        await wait_for(lambda: CommandPalette.is_open(app), pilot)
        await pilot.press(*"pin every")
        palette = app.screen
        await wait_for(lambda: any("pin every request" in str(o.prompt)
                                   for o in palette.query_one(OptionList).options), pilot)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, RoutePicker), pilot)  # F5's action, run from the palette
        await pilot.press("escape")
        await pilot.press("f1")
        await wait_for(lambda: app.screen is not app.screen_stack[0], pilot)
        shown = str(app.screen.query_one("#text-modal-body").render())
        for binding in CcmApp.BINDINGS:
            assert binding.tooltip in shown, binding.tooltip  # every key, described once, on its binding
        assert "F10" in shown and "show token counts (count_tokens) one by one" in shown


async def test_status_bar_shows_spend_against_the_budget_cap(make_app, server,
                                                             config_file: Path) -> None:  # type: ignore[no-untyped-def]
    # the fake answers 12 in / 7 out tokens: one request crosses the cap; a reload brings it in
    config_file.write_text(config_file.read_text() + "\n[budget]\nmax_usd = 0.0001\n")
    assert server.command(lambda session: session.reload("test")).result(10)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        bar = app.screen.query_one("#statusbar")
        await pilot.pause(0.1)
        assert "$0.0000 / $0.0001" in str(bar.render())
        assert (await send(server)).status_code == 200
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        await wait_for(lambda: "/ $0.0001" in str(bar.render()) and "$0.0000 /" not in str(bar.render()), pilot)
        assert (await send(server)).status_code == 429, "over the cap: refused with a typed error"


async def test_pinning_another_model_says_what_the_lost_prompt_cache_costs(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.anthropic_server import Reply

    fake_anthropic.default = Reply(usage={"input_tokens": 2_000, "output_tokens": 7, "cache_read_input_tokens": 40_000})
    app = make_app()
    notes: list[str] = []
    app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await send(server, "claude-sonnet-4-5")
        await wait_for(lambda: app.store.last_main is not None and app.store.last_main.state == "done", pilot)
        await pilot.press("f5")
        await pilot.pause()
        await pilot.press(*"opus", "enter")
        await wait_for(lambda: app.pinned == "anthropic,claude-opus-4-1", pilot)
        await wait_for(lambda: any("not cached there" in n for n in notes), pilot)
    [note] = [n for n in notes if "not cached there" in n]
    assert "from anthropic,claude-sonnet-4-5 to anthropic,claude-opus-4-1" in note
    assert "42.0k-token context" in note and "$" in note  # priced at opus' input price


async def test_requests_answered_before_the_screen_is_up_are_shown(make_app, server) -> None:  # type: ignore[no-untyped-def]
    """claude starts before the TUI (it loads meanwhile): what the proxy answers early is not lost."""
    app = make_app()
    await send(server)  # answered before the app runs
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        assert app.store.at(0).route == "default"
