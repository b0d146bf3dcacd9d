"""Accept failures from descriptor exhaustion: one log line a second at most; anything else is not ours."""

from __future__ import annotations

import errno
import logging
from typing import Any

from ccm_tui.proxy.connections import AcceptFailureLog


class Loop:
    def __init__(self) -> None:
        self.defaults: list[dict[str, Any]] = []

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.defaults.append(context)


def test_a_storm_of_accept_failures_is_one_line_without_traceback(caplog) -> None:  # type: ignore[no-untyped-def]
    handler, loop = AcceptFailureLog(), Loop()
    exhausted = OSError(errno.EMFILE, "Too many open files")
    with caplog.at_level(logging.WARNING, logger="ccm_tui.proxy.connections"):
        for _ in range(1000):
            handler(loop, {"message": "socket.accept() out of system resource", "exception": exhausted})
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None
    assert "Too many open files" in caplog.records[0].getMessage()
    assert loop.defaults == []
    other = {"message": "Task exception was never retrieved", "exception": ValueError("x")}
    handler(loop, other)
    assert loop.defaults == [other], "other loop errors keep asyncio's own handling"
