"""First run: the screen lists the keys found, writes a private commented config (or a passthrough
writes nothing), the proxy picks up a config that appears after it started, and a configuration
error is notified at once and named in the status bar."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest

from ccm_tui.config import embedded_default, load_config, parse_config
from ccm_tui.events import EventBus
from ccm_tui.first_config import first_config, scan, write_first_config
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.first_run import PASSTHROUGH, WRITTEN, FirstRunApp
from ccm_tui.tui.screens.main import status_text
from tests.conftest import CANARY_KEY

from .conftest import SIZE, send, wait_for

ENV = {"OPENROUTER_API_KEY": CANARY_KEY, "GOOGLE_API_KEY": CANARY_KEY, "PATH": "/usr/bin"}


def test_scan_and_the_config_hold_references_never_values() -> None:
    found = {f.provider.name: f.variable for f in scan(ENV)}
    assert found["openrouter"] == "OPENROUTER_API_KEY" and found["gemini"] == "GOOGLE_API_KEY"
    assert found["anthropic"] is None and found["deepseek"] is None
    text = first_config(ENV)
    assert CANARY_KEY not in text and 'api_key = "$OPENROUTER_API_KEY"' in text and text.startswith("# ")
    config = parse_config(text, env=ENV)
    assert config.router.routes["default"] == "openrouter,anthropic/claude-sonnet-4.5"
    assert config.router.routes["long_context"] == "gemini,gemini-2.5-pro"
    login = parse_config(first_config(ENV, keep_claude_login=True), env=ENV)
    assert login.providers["anthropic"].auth == "client" and login.router.routes["default"].startswith("anthropic,")


def test_the_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    write_first_config(path, first_config(ENV))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(FileExistsError):
        write_first_config(path, "x")


@pytest.mark.parametrize(("keys", "result", "auth"), [("w", WRITTEN, "key"), ("ll", WRITTEN, "client"),
                                                       ("p", PASSTHROUGH, None), ("q", None, None)])
async def test_first_run_screen_lists_keys_and_writes_or_passes_through(tmp_path: Path, keys: str, result, auth) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cfg" / "config.toml"
    app = FirstRunApp(path, ENV)
    async with app.run_test(size=(120, 40)) as pilot:
        shown = str(app.query_one("#first-keys").render())
        assert "✓ OpenRouter" in shown and "$OPENROUTER_API_KEY" in shown and "– Anthropic" in shown
        assert CANARY_KEY not in shown
        await pilot.press(*keys)
        await pilot.pause()
    assert app.return_value == result
    if auth is None:
        assert not path.exists()
    else:
        assert load_config(path, env=ENV).providers["anthropic" if auth == "client" else "openrouter"].auth == auth


def test_the_proxy_picks_up_a_config_written_after_it_started(tmp_path: Path, fake_anthropic, start_proxy,  # type: ignore[no-untyped-def]
                                                             monkeypatch) -> None:
    import dataclasses

    monkeypatch.setenv("TEST_ANTHROPIC_KEY", CANARY_KEY)
    path = tmp_path / "config.toml"
    server = start_proxy(dataclasses.replace(embedded_default(), path=path))
    path.write_text(f'[providers.up]\ntype = "anthropic"\nbase_url = "{fake_anthropic.base_url}"\n'
                    'api_key = "$TEST_ANTHROPIC_KEY"\n[router]\ndefault = "up,claude-sonnet-4-5"\n')
    deadline = time.monotonic() + 15
    while server.config.embedded_default:
        assert time.monotonic() < deadline, "the new file was not picked up"
        time.sleep(0.05)
    response = httpx.post(server.base_url + "/v1/messages", headers={"x-api-key": server.token.reveal()},
                          json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200 and fake_anthropic.requests[-1]["headers"]["x-api-key"] == CANARY_KEY


async def test_passthrough_without_a_key_is_named_and_its_error_notified_at_once(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    server = ProxyServer(dataclasses.replace(embedded_default(), path=tmp_path / "none.toml"), EventBus(),
                         host="127.0.0.1", port=0)
    server.start_in_thread()
    try:
        app = CcmApp(server, None, {}, exit_grace=0)
        async with app.run_test(size=SIZE) as pilot:
            bar = status_text(app).plain
            assert "passthrough to Anthropic" in bar and "none.toml" not in bar
            response = await send(server)
            assert response.status_code == 401 and response.headers["x-should-retry"] == "false"
            await wait_for(lambda: any("has no API key" in n.message for n in app._notifications), pilot)
            await send(server)
            await pilot.pause(0.3)
            assert sum("has no API key" in n.message for n in app._notifications) == 1, "once, not per request"
    finally:
        server.stop()
