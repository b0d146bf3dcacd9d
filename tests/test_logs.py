"""The log file is private (it names paths, routes and errors of the user's session)."""

from __future__ import annotations

import logging
import stat

from ccm_tui.logs import setup_file_logging


def test_log_file_is_0600_and_receives_records(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state" / "ccm.log"
    monkeypatch.setenv("CCM_LOG_FILE", str(path))
    try:
        assert setup_file_logging() == path
        logging.getLogger("ccm_tui.test").info("hello log")
        for handler in logging.getLogger().handlers:
            handler.flush()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "hello log" in path.read_text()
    finally:
        for handler in logging.getLogger().handlers[:]:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _close_root_handlers() -> None:
    for handler in logging.getLogger().handlers[:]:
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_a_pre_existing_world_readable_log_becomes_private_and_new_folders_are_0700(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    old_umask = os.umask(0o022)
    try:
        shared = tmp_path / "old.log"
        shared.write_text("from an older version\n")
        shared.chmod(0o644)
        monkeypatch.setenv("CCM_LOG_FILE", str(shared))
        setup_file_logging()
        assert stat.S_IMODE(shared.stat().st_mode) == 0o600
        _close_root_handlers()
        fresh = tmp_path / "a" / "b" / "ccm.log"
        monkeypatch.setenv("CCM_LOG_FILE", str(fresh))
        setup_file_logging()
        assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    finally:
        os.umask(old_umask)
        _close_root_handlers()


def test_the_state_folder_is_made_private_even_if_it_exists(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    import pytest

    from ccm_tui.config import state_dir

    if not sys.platform.startswith("linux"):
        pytest.skip("XDG_STATE_HOME decides the state folder on Linux")
    monkeypatch.delenv("CCM_LOG_FILE", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    state_dir().mkdir(parents=True)
    state_dir().chmod(0o755)
    try:
        assert setup_file_logging().parent == state_dir()
        assert stat.S_IMODE(state_dir().stat().st_mode) == 0o700
    finally:
        _close_root_handlers()
