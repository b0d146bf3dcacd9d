"""Finding claude: --claude-bin, $CCM_CLAUDE_BIN, PATH, then the per-user install the README's command makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccm_tui.commands.tui import resolve_claude, user_claude


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CCM_CLAUDE_BIN", raising=False)
    return tmp_path


def test_the_per_user_install_is_found_when_path_has_none(bare: Path) -> None:
    assert resolve_claude(None) is None
    installed = executable(bare / "data" / "ccm-tui" / "claude-cli" / "node_modules" / ".bin" / "claude")
    assert user_claude() == installed
    assert resolve_claude(None) == str(installed)


def test_path_wins_over_the_per_user_install_and_explicit_wins_over_both(bare: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    executable(user_claude())
    on_path = executable(bare / "bin" / "claude")
    assert resolve_claude(None) == str(on_path)
    mine = executable(bare / "mine" / "claude")
    monkeypatch.setenv("CCM_CLAUDE_BIN", str(mine))
    assert resolve_claude(None) == str(mine)
    assert resolve_claude("claude") == str(on_path)
    assert resolve_claude(str(bare / "missing")) is None
