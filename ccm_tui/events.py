"""In-process event bus: the proxy publishes flow events, the TUI and ``serve`` subscribe.

Publishing is synchronous and cheap; subscribers must not block (the TUI hands each event
to its own thread with ``App.call_from_thread``/``post_message``). A subscriber that raises
is logged and skipped: a broken view never breaks a request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

from .flow import Flow

log = logging.getLogger(__name__)


class FlowEvent(StrEnum):
    CREATED = "created"
    ROUTED = "routed"
    FIRST_BYTE = "first_byte"
    PROGRESS = "progress"
    FINISHED = "finished"
    FAILED = "failed"


Subscriber = Callable[[FlowEvent, Flow], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def publish(self, event: FlowEvent, flow: Flow) -> None:
        for callback in self._subscribers:  # copy-on-write list: safe to iterate without the lock
            try:
                callback(event, flow)
            except Exception:  # noqa: BLE001 - a view's bug must not fail the request
                log.exception("event subscriber %r failed on %s", callback, event)
