"""Route picker: typed nonsense is answered inline, a typed new model joins its provider's models;
config check names the invalid provider a route points at and suggests the nearest key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.widgets import Label

from ccm_tui.config import ConfigError, parse_config
from ccm_tui.tui.dialogs.route_picker import RoutePicker

from .conftest import SIZE, wait_for


async def test_typed_nonsense_gets_an_inline_error_and_a_new_model_is_added(make_app, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.pick_route("think")
        await wait_for(lambda: isinstance(app.screen, RoutePicker), pilot)
        await pilot.press(*"zzqx", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#picker-error", Label).render())
        assert "no configured model matches 'zzqx'" in error and isinstance(app.screen, RoutePicker)
        for _ in range(4):
            await pilot.press("backspace")
        await pilot.press(*"anthropic,claude-opus-4-5-new", "enter")
        await wait_for(lambda: app.config.router.routes.get("think") == "anthropic,claude-opus-4-5-new", pilot)
        saved = tomllib.loads(config_file.read_text())
        assert saved["providers"]["anthropic"]["models"][-1] == "claude-opus-4-5-new"
        assert "# the canary" in config_file.read_text(), "comments survive"
        assert ("anthropic", "claude-opus-4-5-new") in app.config.all_models()


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env={}, source="c.toml")
    return info.value.problems


def test_a_route_to_an_invalid_provider_says_so_and_typos_get_the_nearest_key() -> None:
    found = problems('[providers.a]\ntype = "openaii"\n[router]\ndefault = "a,m"\nbackgrund = "a,m"\n'
                     '[histroy]\nenabled = true\n')
    assert any("router.default: provider 'a' is invalid (providers.a.type: must be one of" in p for p in found)
    assert not any("unknown provider" in p for p in found)
    assert any("router.backgrund: unknown key; did you mean 'background'?" in p for p in found)
    assert any("histroy: unknown section; did you mean 'history'?" in p for p in found)
    other = problems('[providers.a]\ntype = "openaii"\n[router]\ndefault = "b,m"\n')
    assert any("unknown provider 'b' (defined: a (invalid))" in p for p in other)
