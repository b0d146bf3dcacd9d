"""What the panes show: collapsed token counts, the detail line, columns at narrow widths, claude's exit."""

from __future__ import annotations

import io

import httpx
import pytest
from rich.console import Console

from ccm_tui.flow import Flow
from ccm_tui.tui import format as fmt
from ccm_tui.tui.panes.claude import ClaudePane
from ccm_tui.tui.panes.providers import ProvidersPane
from ccm_tui.tui.panes.requests import CountGroup, RequestsTable, build_rows, detail
from ccm_tui.tui.panes.tokens import TokensPane

from .conftest import SIZE, send, wait_for


def flows(kinds: str) -> list[Flow]:
    """Newest first: "m" a messages flow, "c" a count_tokens flow."""
    out = []
    for k in kinds:
        flow = Flow("POST", "/v1/messages", {}, {})
        flow.kind = "count_tokens" if k == "c" else "messages"
        out.append(flow)
    return out


def shape(rows: list) -> str:
    return " ".join(f"c{len(r.flows)}" if isinstance(r, CountGroup) else r.kind[0] for r in rows)


@pytest.mark.parametrize(("kinds", "collapsed", "expanded"), [
    ("", "", ""),
    ("m", "m", "m"),
    ("c", "c", "c"),  # a lone count stays a row of its own
    ("mcccm", "m c3 m", "m c c c m"),
    ("ccmcc", "c2 m c2", "c c m c c"),
    ("cmc", "c m c", "c m c"),
])
def test_runs_of_token_counts_collapse(kinds: str, collapsed: str, expanded: str) -> None:
    assert shape(build_rows(flows(kinds), collapse=True)) == collapsed
    assert shape(build_rows(flows(kinds), collapse=False)) == expanded


@pytest.mark.parametrize(("widths", "available", "kept"), [
    ({"a": 3, "b": 3, "c": 3}, 100, ["a", "b", "c"]),
    ({"a": 3, "b": 3, "c": 3}, 10, ["a", "c"]),  # b has the lowest priority
    ({"a": 3, "b": 3, "c": 3}, 5, ["a"]),
    ({"a": 3, "b": 3, "c": 3}, 2, []),
])
def test_fit_columns_drops_the_lowest_priority_first(widths, available, kept) -> None:  # type: ignore[no-untyped-def]
    assert fmt.fit_columns((("a", 3), ("b", 1), ("c", 2)), widths, available) == kept


async def count_tokens(server, n: int) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "how long is this?"}]}
    headers = {"x-api-key": server.token.reveal(), "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(n):
            response = await client.post(server.base_url + "/v1/messages/count_tokens", json=body, headers=headers)
            assert response.status_code == 200


def table_text(table: RequestsTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_token_counts_collapse_into_one_row_and_t_shows_them(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server, text="first")
        await count_tokens(server, 12)
        await send(server, text="second")
        await wait_for(lambda: len(app.store) == 14, pilot)
        table = app.screen.query_one(RequestsTable)
        await wait_for(lambda: len(table.rows) == 3, pilot)
        lines = table_text(table)
        assert "12 token counts" in lines[1] and "claude-sonnet-4-5" in lines[0] and "claude-sonnet-4-5" in lines[2]
        assert not lines[3].strip()  # the main requests stay at the top, nothing else
        group_style = table.render_line(1)
        assert all(seg.style is None or seg.style.dim for seg in group_style if seg.text.strip())
        table.focus()
        await pilot.press("down", "down")  # the older main request: new counts must not move the cursor off it
        anchored = table.current
        await count_tokens(server, 3)
        await wait_for(lambda: len(app.store) == 17, pilot)
        await pilot.pause(0.2)
        assert table.current is anchored and len(table.rows) == 4
        await pilot.press("t")
        await wait_for(lambda: len(table.rows) == 17, pilot)
        assert table.current is anchored
        assert sum("cnt" in line for line in table_text(table)) >= 10
        await pilot.press("t")
        await wait_for(lambda: len(table.rows) == 4, pilot)
        await pilot.press("up")  # the collapsed run; Enter opens it
        assert isinstance(table.current_row, CountGroup)
        await pilot.press("enter")
        await wait_for(lambda: table.show_counts, pilot)
        assert table.current is not None and table.current.kind == "count_tokens"
        from ccm_tui.tui.commands import entries

        assert "Token counts one by one / collapsed" in [entry.title for entry in entries(app)]


async def test_detail_line_keeps_reason_and_error_apart(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.anthropic_server import Reply

    fake_anthropic.script = [Reply(status=400, error_body={"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long"}})]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server)
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        first, second = detail(app.store.at(0)).plain.split("\n")
        assert first == f"#{app.store.at(0).id} default → anthropic,claude-sonnet-4-5 · main conversation request"
        assert second.startswith("error 400 ") and "prompt is too long" in second


async def test_narrow_panes_keep_readable_headers(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app(["--requests", "0", "--interactive"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["f8"] * 6)  # claude gets 80%: the dashboard is ~30 cells wide
        await wait_for(lambda: app.claude_width == 80, pilot)
        for _ in range(2):
            await send(server)
        await wait_for(lambda: app.store.session.requests == 2, pilot)
        await pilot.pause(0.3)
        for pane_type, required in ((ProvidersPane, ("provider", "req", "err")), (TokensPane, ("name", "out"))):
            pane = app.screen.query_one(pane_type)
            width = pane.content_size.width
            assert width < 40
            console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
            console.print(pane.build())
            lines = console.export_text().splitlines()
            header = next(line for line in lines if required[0] in line.split())
            assert "…" not in header, lines
            assert all(word in header.split() for word in required), header
            assert all(len(line) <= width for line in lines)
        await app.screen.query_one(ClaudePane).terminate()


async def test_the_pane_says_claude_exited(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(["--requests", "0", "--exit", "7"], keep_open=True)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.screen.query_one(ClaudePane)
        await wait_for(lambda: "fake-claude exiting with 7" in "\n".join(pane.emulator.display), pilot)
        await wait_for(lambda: app.claude_exit_code == 7, pilot)
        last = pane.render_line(pane.size.height - 1).text
        assert "claude exited with code 7 — F10 quits" in last
        assert "fake-claude exiting with 7" in "\n".join(pane.render_line(y).text for y in range(pane.size.height))
        await pilot.press("f10")
    assert app.return_code == 7


async def test_answers_and_curl_with_brackets_are_shown_literally(make_app, server, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Static

    from ccm_tui.tui.dialogs.text import TextModal
    from ccm_tui.tui.screens.inspector import ReplayView
    from tests.fakes.anthropic_server import Reply

    literal = "see [bold]x[/bold] and [/tmp/a] as typed"
    fake_anthropic.script = [Reply(text=literal)]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server, text=literal)
        await wait_for(lambda: app.store.session.requests == 1, pilot)
        flow = app.store.at(0)
        await app.push_screen(ReplayView(flow, "anthropic,claude-haiku-4-5", app.redactor))
        assert str(app.screen.query_one("#replay-original", Static).render()) == literal
        app.screen.dismiss(None)
        await pilot.pause()
        app.copy_curl(flow)
        await wait_for(lambda: isinstance(app.screen, TextModal) and app.screen.query("#text-modal-command"), pilot)
        assert "[bold]x[/bold] and [/tmp/a]" in str(app.screen.query_one("#text-modal-command", Static).render())


def test_tokens_table_shows_model_names_literally() -> None:
    """A request may name any ``provider,model`` (override): brackets in it are text, not markup."""
    from ccm_tui.stats import Totals
    from ccm_tui.tui.panes.tokens import totals_table

    table = totals_table([("route", {"default": Totals(requests=2)}),
                          ("model", {"anthropic,claude-[/]x": Totals(requests=1), "p,[bold]m": Totals(requests=1)})])
    console = Console(width=120, file=io.StringIO(), record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "anthropic,claude-[/]x" in text and "p,[bold]m" in text


def test_bad_tools_cell_shows_the_invalid_tool_call_rate() -> None:
    from ccm_tui.tui.panes.providers import bad_tools

    assert bad_tools(0, 0).plain == "—"
    assert bad_tools(1, 8).plain == "12% of 8" and "red" in str(bad_tools(1, 8).style)
    assert bad_tools(0, 5).plain == "0% of 5"


def test_providers_pane_shows_the_bad_tool_rate_per_provider_and_per_model() -> None:
    from ccm_tui.flow import Decision
    from ccm_tui.stats import FlowStore

    store = FlowStore()
    for target, counts in (("oai,m1", [4, 1]), ("oai,m2", [4, 0]), ("gem,g", [2, 0])):
        flow = Flow("POST", "/v1/messages", {}, {})
        provider, model = target.split(",")
        flow.state, flow.tool_calls = "done", {target: counts}
        flow.decision = Decision(route="default", provider=provider, model=model, reason="test")
        store.ingest([flow])
    console = Console(width=160, file=io.StringIO(), record=True, color_system=None)
    console.print(ProvidersPane(store).build())
    lines = {line.split()[0] if not line.startswith(" └") else line.split()[1]: line
             for line in console.export_text().splitlines() if line.strip()}
    assert "bad tools" in lines["provider"]
    assert "12% of 8" in lines["oai"] and "0% of 2" in lines["gem"]
    assert "25% of 4" in lines["m1"] and "0% of 4" in lines["m2"]
    assert "g" not in lines  # one model under gem: its provider row says it all


async def test_incremental_rows_match_a_full_rebuild(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Random flushes (new flows, updates, counts in runs, history drops) keep the table's rows, and
    where each flow is found, exactly what recomputing everything from the store gives."""
    import random

    from ccm_tui.tui.panes import requests as requests_pane

    app = make_app(history=40)
    rng = random.Random(18)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RequestsTable)
        await pilot.pause()
        rebuilds = []
        original = requests_pane.build_rows
        monkeypatch.setattr(requests_pane, "build_rows", lambda *a, **k: rebuilds.append(1) or original(*a, **k))
        live: list[Flow] = []
        for step in range(300):
            batch = flows("".join(rng.choice("mccc") for _ in range(rng.randint(0, 6))))
            live += batch
            batch += rng.sample(live[-20:], min(len(live), rng.randint(0, 3)))  # updates of recent flows
            app.ingest(sorted(set(batch), key=lambda f: f.id))
            expected = original(app.store.newest_first(), collapse=not table.show_counts)
            assert shape(list(table.rows)) == shape(expected), step
            for index, row in enumerate(expected):
                for flow in row.flows if isinstance(row, CountGroup) else [row]:
                    assert table._index_of(flow.id) == index
            if step % 50 == 0:
                table.render_line(0)
        assert not rebuilds, "a flush never recomputes every row"
        assert app.store.dropped > 100


async def test_long_sessions_show_whole_request_ids(make_app) -> None:  # type: ignore[no-untyped-def]
    """Ids pass 9999 in a long session (and across a test run): the "#" column widens, never truncates."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RequestsTable)
        await pilot.pause()
        small, big = flows("mm")
        small.id, big.id = 42, 1_234_567
        app.ingest([small])
        assert table.render_line(0).text.startswith("42 ")
        app.ingest([big])
        await pilot.pause()
        lines = table_text(table)
        assert lines[0].startswith("1234567 ") and lines[1].startswith("42 "), lines[:2]
        header = str(app.screen.query_one("#requests-header").render())
        assert header.index("time") == lines[0].index(lines[0].split()[1]), (header, lines[0])


def test_providers_pane_shows_each_providers_cache_hit_rate() -> None:
    from ccm_tui.tui.panes.providers import cache_rate

    assert cache_rate(0, 0).plain == "—"
    assert cache_rate(810, 190).plain == "81%" and cache_rate(810, 190).style == "green"
    assert cache_rate(0, 500).plain == "0%"
