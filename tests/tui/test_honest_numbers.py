"""Honest numbers: the context meter's window is the routed request's, the status bar counts requests as
the Tokens pane does, and auto mode's safeguards handshake is not a provider error."""

from __future__ import annotations

import json
from pathlib import Path

from ccm_tui.config import load_config
from ccm_tui.limits import CONTEXT_1M, request_window
from ccm_tui.stats import FlowStore
from ccm_tui.tui.panes.tokens import TokensPane
from ccm_tui.tui.screens.main import status_text
from tests.history.test_store import make_flow

from .conftest import SIZE, send, wait_for
from .test_panes import count_tokens

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"


def test_window_is_1m_when_claude_asks_anthropic_for_the_1m_beta(config_file: Path) -> None:
    config = load_config(config_file)
    beta = {"Anthropic-Beta": "claude-code-20250219,context-1m-2025-08-07"}
    plain = request_window(config, "anthropic", "claude-sonnet-4-5", {"anthropic-beta": "claude-code-20250219"},
                           "claude-sonnet-4-5")
    asked = request_window(config, "anthropic", "claude-sonnet-4-5", beta, "claude-sonnet-4-5")
    assert (plain, asked) == (200_000, CONTEXT_1M)
    # claude asked for the 1M window of the model it named; routed to another model, that one's holds
    assert request_window(config, "anthropic", "claude-haiku-4-5", beta, "claude-opus-4-8") == 200_000


def test_a_request_without_a_size_yet_does_not_reset_the_meter_and_the_handshake_is_no_error() -> None:
    store = FlowStore()
    sized = make_flow(inp=5000)
    store.ingest([sized])
    running = make_flow(inp=0, state="streaming")
    store.ingest([running])
    assert store.last_main is sized
    handshake = make_flow(inp=0, state="failed", status=400)
    handshake.expected_refusal = True
    store.ingest([handshake])
    assert store.session.errors == 0 and store.providers["prov"].totals.errors == 0


async def test_status_bar_and_tokens_pane_count_the_same_requests(make_app, server) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(server, text="one")
        await send(server, text="two")
        await count_tokens(server, 5)
        await wait_for(lambda: len(app.store) == 7, pilot)
        await pilot.pause(0.3)
        pane = app.screen.query_one(TokensPane)
        assert "session 2 requests" in pane.build().renderables[0].plain  # type: ignore[union-attr]
        assert "  ·  2 requests" in status_text(app).plain


async def test_safeguards_handshake_on_a_non_anthropic_route_is_not_a_provider_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from ccm_tui.events import EventBus
    from ccm_tui.proxy.server import ProxyServer

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = tmp_path / "config.toml"
    path.write_text('[providers.oai]\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "k"\n'
                    'models = ["gpt-4o"]\n[router]\ndefault = "oai,gpt-4o"\n')
    proxy = ProxyServer(load_config(path), EventBus(), host="127.0.0.1", port=0)
    store = FlowStore()
    proxy.bus.subscribe(lambda event, flow: store.ingest([flow]))
    proxy.start_in_thread()
    try:
        body = json.loads((FIXTURES / "v2330_auto_mode_safeguards.json").read_text())["body"]
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(proxy.base_url + "/v1/messages", json=body,
                                         headers={"x-api-key": proxy.token.reveal()})
        assert response.status_code == 400 and "safeguards" in response.text
    finally:
        proxy.stop()
    assert store.session.requests == 1 and store.session.errors == 0
    assert store.providers["oai"].totals.errors == 0
