"""Logging goes to a file under the XDG state dir: stdout/stderr belong to the TUI (or serve's lines)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .config import state_dir
from .secrets import private_dir


def log_path() -> Path:
    return Path(os.environ.get("CCM_LOG_FILE") or state_dir() / "ccm-tui.log")


def setup_file_logging(level: int = logging.INFO) -> Path:
    path = log_path()
    private_dir(path.parent, tighten=path.parent == state_dir())
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)  # private from the first byte
    try:
        os.fchmod(fd, 0o600)  # and a file left 0644 by an older version becomes private too
    finally:
        os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
