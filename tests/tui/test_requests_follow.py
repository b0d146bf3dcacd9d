"""The requests table keeps up: it follows new rows until the user moves, `f` toggles, `/` and `e` filter,
token counts answered here say `local`, a replay says `replay of #N`."""

from __future__ import annotations

import asyncio

import httpx

from ccm_tui.proxy.replay import replay as replay_request
from ccm_tui.tui.panes.requests import RequestsPane, RequestsTable, detail

from .conftest import SIZE, send, wait_for
from .test_panes import count_tokens, table_text


async def test_follows_new_rows_until_the_cursor_moves_and_f_follows_again(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RequestsTable)
        pane = app.screen.query_one(RequestsPane)
        table.focus()
        for i in range(30):
            await send(server, text=f"m{i}")
        await wait_for(lambda: len(table.rows) == 30, pilot)
        assert table.follow and "following" in str(pane.border_title)
        await pilot.press("j", "j", "j")  # three rows down: paused on #27
        await pilot.pause()
        assert not table.follow and "paused" in str(pane.border_title)
        watched = table.current
        top_before = table_text(table)[0]
        for i in range(5):
            await send(server, text=f"late{i}")
        await wait_for(lambda: len(table.rows) == 35, pilot)
        await pilot.pause()
        assert table.current is watched, "paused: the cursor stays on the flow the user looks at"
        assert table_text(table)[0] == top_before, "paused: the view keeps the same rows"
        await pilot.press("f")
        await pilot.pause()
        assert table.follow and table.cursor == 0 and table.scroll_offset.y == 0
        await send(server, text="newest")
        await wait_for(lambda: len(table.rows) == 36, pilot)
        await pilot.pause()
        assert table.cursor == 0 and table.current is table.rows[0] and table.scroll_offset.y == 0
        assert table.current.request_body["messages"][0]["content"] == "newest"


async def test_slash_filters_by_text_e_shows_errors_and_esc_clears(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RequestsTable)
        pane = app.screen.query_one(RequestsPane)
        table.focus()
        await send(server, "claude-haiku-4-5", text="small")
        await send(server, text="big")
        async with httpx.AsyncClient(timeout=10) as client:
            failed = await client.post(server.base_url + "/v1/messages", headers={"x-api-key": server.token.reveal()},
                                       json={"model": "claude-sonnet-4-5", "max_tokens": -1, "messages": []})
        assert failed.status_code == 400
        await wait_for(lambda: len(table.rows) == 3, pilot)
        await pilot.press("slash", *"haiku")
        await pilot.pause()
        assert [f.target for f in table.rows] == ["anthropic,claude-haiku-4-5"]
        assert "haiku" in str(pane.border_subtitle)
        await pilot.press("enter")  # keeps the filter, back in the table
        assert app.focused is table and len(table.rows) == 1
        await pilot.press("escape")
        await pilot.pause()
        assert len(table.rows) == 3 and not table.filters
        await pilot.press("e")
        await pilot.pause()
        assert len(table.rows) == 1 and table.rows[0].state == "failed"
        await pilot.press("slash", *"haiku")  # composes with errors-only: nothing both
        await pilot.pause()
        assert len(table.rows) == 0
        await pilot.press("escape")  # in the box: clears the text only
        await pilot.pause()
        assert app.focused is table and len(table.rows) == 1
        await pilot.press("e")
        await pilot.pause()
        assert len(table.rows) == 3


async def test_local_token_counts_and_replays_are_labelled_and_replays_stay_out_of_totals(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RequestsTable)
        await send(server, text="original")
        await count_tokens(server, 1)
        await wait_for(lambda: len(app.store) == 2 and app.store.session.requests == 1, pilot)
        await wait_for(lambda: "local" in table_text(table)[0], pilot)
        original = next(f for f in app.store.newest_first() if f.kind == "messages")
        result = await asyncio.wrap_future(server.command(
            lambda _: replay_request(server.base_url, server.token, original, "anthropic,claude-haiku-4-5")))
        assert not result.error
        await wait_for(lambda: app.store.replays.requests == 1, pilot)
        assert app.store.session.requests == 1 and sum(t.requests for t in app.store.routes.values()) == 1
        label = f"replay #{original.id}" if original.id < 1000 else f"↻ #{original.id}"  # fits the route column
        await wait_for(lambda: label in table_text(table)[0], pilot)
        assert f"replay of #{original.id}" in detail(table.rows[0]).plain
        assert app.store.last_main is original


async def test_a_client_cannot_mark_its_request_a_replay_without_the_proxy_token(server) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
    seen = []
    unsubscribe = server.bus.subscribe(lambda event, flow: seen.append(flow))
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            await client.post(server.base_url + "/v1/messages", json=body, headers={
                "x-api-key": server.token.reveal(), "x-ccm-replay-of": "1", "x-ccm-token": "guess"})
    finally:
        unsubscribe()
    assert seen and seen[-1].replay_of is None
