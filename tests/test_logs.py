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
