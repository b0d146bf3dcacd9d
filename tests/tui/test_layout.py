"""Layout: the dashboard panes share the height in a defined order down to 80×24, none cut off."""

from __future__ import annotations

import pytest

from ccm_tui.tui.layout import PANES, REQUESTS_MIN, share_height

from .conftest import send, wait_for


def test_share_height_hides_the_lowest_priority_first_and_never_overflows() -> None:
    for height in range(0, 60):
        given = share_height(height)
        assert sum(given.values()) <= max(0, height - REQUESTS_MIN)
        shown = [name for name, _, _ in PANES if given[name]]
        assert shown == [name for name, _, _ in PANES][:len(shown)], "panes go in the defined order"
    assert share_height(22)["routes"] and not share_height(22)["sessions"]


@pytest.mark.parametrize("size", [(160, 45), (120, 35), (90, 28), (80, 24)])
async def test_no_pane_is_cut_off_at_any_size(make_app, server, size) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=size) as pilot:
        for i in range(3):
            await send(server, text=f"m{i}")
        await wait_for(lambda: app.store.session.requests == 3, pilot)
        await pilot.pause(0.3)
        app.screen.share_height()
        await pilot.pause(0.1)
        bottom = app.screen.size.height - 2
        shown = []
        for name in ("requests", "sessions", "providers", "tokens", "routes"):
            pane = app.screen.query_one(f"#{name}")
            if pane.display:
                region = pane.region
                assert region.height >= 2 and region.bottom <= bottom, (name, region, size)
                shown.append(name)
        assert "requests" in shown and "routes" in shown
        routes = app.screen.query_one("#routes")
        assert routes.region.height >= 5, "Routes keeps its border and rows"


def test_truncated_model_names_stay_distinct() -> None:
    from ccm_tui.tui.format import fit_target

    names = ["anthropic,claude-sonnet-4-5", "anthropic,claude-haiku-4-5", "fakeoai,gpt-fake-model-one-long-name",
             "fakeoai,gpt-fake-model-two-long-name"]
    for width in (26, 22, 19, 14, 10):
        shown = [fit_target(name, width, names) for name in names]
        assert len(set(shown)) == len(names), (width, shown)
        assert all(len(s) <= width for s in shown)
    assert fit_target("anthropic,claude-sonnet-4-5", 22, names) == "ant…,claude-sonnet-4-5"  # the model stays whole


def test_requests_rows_tell_two_long_models_apart() -> None:
    from ccm_tui.flow import Decision, Flow
    from ccm_tui.tui.panes.request_rows import layout_row, row_cells

    names = ["fakeoai,gpt-fake-model-one-long-name", "fakeoai,gpt-fake-model-two-long-name"]
    lines = []
    for name in names:
        flow = Flow("POST", "/v1/messages", {})
        flow.decision = Decision("think", *name.split(","), "why")
        lines.append(layout_row(row_cells(flow), 60, names=names).plain)
    assert "one" in lines[0] and "two" in lines[1], lines


def test_tokens_pane_tells_two_long_models_apart() -> None:
    import io

    from rich.console import Console

    from ccm_tui.stats import Totals
    from ccm_tui.tui.panes.tokens import totals_table

    models = {"fakeoai,gpt-fake-model-one-long-name": Totals(requests=2),
              "fakeoai,gpt-fake-model-two-long-name": Totals(requests=1)}
    for width in (40, 56, 70):
        console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
        console.print(totals_table([("model", models)], width))
        lines = [line for line in console.export_text().splitlines() if "model-" in line]
        assert len(lines) == 2 and "one" in lines[0] and "two" in lines[1], (width, lines)
