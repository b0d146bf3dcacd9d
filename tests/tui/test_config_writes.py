"""Route switches from the dashboard never lose the user's file: they edit it as it is on disk now,
write through a symlink to its target, and change nothing at all when the write fails."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from .conftest import SIZE, send, wait_for


async def switch_default_to_opus(app, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f4")
    await pilot.press("f4")  # the picker for the highlighted route: default
    await pilot.pause()
    await pilot.press(*"opus", "enter")


def notes(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(n.message) for n in app._notifications)


async def test_an_edit_made_since_start_is_kept(make_app, server, config_file: Path,
                                                fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        edited = config_file.read_text().replace("# main conversation", "# edited while ccm-tui ran")
        edited += '\n[prices]\n"claude-opus-4-1" = { input = 1.0, output = 2.0 }   # added by hand\n'
        config_file.write_text(edited)
        await switch_default_to_opus(app, pilot)
        await wait_for(lambda: 'default = "anthropic,claude-opus-4-1"' in config_file.read_text(), pilot)
        await wait_for(lambda: app.config.router.routes["default"] == "anthropic,claude-opus-4-1", pilot)
        assert (await send(server)).status_code == 200
    text = config_file.read_text()
    assert "# edited while ccm-tui ran" in text and "# added by hand" in text
    assert fake_anthropic.requests[-1]["body"]["model"] == "claude-opus-4-1"


async def test_a_symlinked_config_updates_its_target(tmp_path: Path, config_file: Path, make_app, server,
                                                     ) -> None:  # type: ignore[no-untyped-def]
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "ccm.toml"
    target.write_text(config_file.read_text())
    target.chmod(0o644)
    config_file.unlink()
    config_file.symlink_to(target)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await switch_default_to_opus(app, pilot)
        await wait_for(lambda: app.config.router.routes["default"] == "anthropic,claude-opus-4-1", pilot)
    assert config_file.is_symlink() and config_file.resolve() == target
    assert 'default = "anthropic,claude-opus-4-1"' in target.read_text()
    assert os.stat(target).st_mode & 0o777 == 0o644, "the target keeps its mode"
    assert sorted(p.name for p in dotfiles.iterdir()) == ["ccm.toml"], "no temporary file left behind"


async def test_a_failed_write_changes_nothing_and_says_why(make_app, server, config_file: Path, fake_anthropic,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    before = config_file.read_text()

    def disk_full(*args: object) -> None:  # the last step of the atomic write
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await switch_default_to_opus(app, pilot)
        await wait_for(lambda: "route not changed" in notes(app), pilot)
        assert "No space left on device" in notes(app)
        assert (await send(server)).status_code == 200
        assert fake_anthropic.requests[-1]["body"]["model"] == "claude-sonnet-4-5", "the proxy kept the old route"
        assert app.config.router.routes["default"] == "anthropic,claude-sonnet-4-5"
    assert config_file.read_text() == before
    assert sorted(p.name for p in config_file.parent.iterdir() if p.name.startswith(".config")) == []


async def test_the_dashboard_shows_a_reload_and_a_refused_edit(make_app, server, config_file: Path,
                                                              fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from ccm_tui.tui.panes.routes import RoutesPane

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        good = config_file.read_text().replace('background = "anthropic,claude-haiku-4-5"',
                                               'background = "anthropic,claude-opus-4-1"')
        config_file.write_text(good)
        await wait_for(lambda: "config reloaded (file changed): router" in notes(app), pilot, timeout=15)
        routes = app.screen.query_one(RoutesPane)
        await wait_for(lambda: app.config.router.routes["background"] == "anthropic,claude-opus-4-1", pilot)
        assert "claude-opus-4-1" in str(routes.table.get_row("background")[1])
        config_file.write_text(good.replace('type = "anthropic"', 'type = "anthropc"'))
        await wait_for(lambda: "edit not applied" in notes(app), pilot, timeout=15)
        assert f"{config_file}:3: providers.anthropic.type" in notes(app)
        assert (await send(server, "claude-haiku-4-5")).status_code == 200
        assert fake_anthropic.requests[-1]["body"]["model"] == "claude-opus-4-1", "the last valid config holds"
