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
