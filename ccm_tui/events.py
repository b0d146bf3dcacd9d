"""In-process event bus: the proxy publishes flow events and session updates; the TUI and
``serve`` subscribe.

Publishing is synchronous and cheap; subscribers must not block (the TUI hands each event
to its own thread with ``App.call_from_thread``/``post_message``). A subscriber that raises
is logged and skipped: a broken view never breaks a request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .config import Config
from .flow import Flow

log = logging.getLogger(__name__)


class FlowEvent(StrEnum):
    CREATED = "created"
    ROUTED = "routed"
    FIRST_BYTE = "first_byte"
    PROGRESS = "progress"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    """The proxy's session changed, or an attempt to change it failed: what the views should show.

    ``config`` is always the snapshot now in force (immutable: safe on any thread), its pin
    included; ``kind`` says what happened (``pin``, ``route``, ``reload``, ``refused``: an edit that does not
    load, the previous config stays in force; ``missing``: the file is gone) and ``message`` in one
    line; ``problems`` lists a refused edit's ``file:line: key: problem``.
    """

    config: Config
    kind: str
    message: str = ""
    problems: tuple[str, ...] = ()

    @property
    def pinned(self) -> str | None:
        return self.config.pinned

    @property
    def about_the_file(self) -> bool:
        """News of the file itself (reloaded, refused, gone), not the answer to a command."""
        return self.kind in ("reload", "refused", "missing")


Subscriber = Callable[[FlowEvent, Flow], None]
SessionSubscriber = Callable[[SessionUpdate], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._session_subscribers: list[SessionSubscriber] = []
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

    def subscribe_session(self, callback: SessionSubscriber) -> Callable[[], None]:
        """Add a session-update subscriber; returns a function that removes it."""
        with self._lock:
            self._session_subscribers = [*self._session_subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._session_subscribers = [s for s in self._session_subscribers if s is not callback]

        return unsubscribe

    def publish_session(self, update: SessionUpdate) -> None:
        for callback in self._session_subscribers:
            try:
                callback(update)
            except Exception:  # noqa: BLE001 - a view's bug must not undo a reload
                log.exception("session subscriber %r failed", callback)
