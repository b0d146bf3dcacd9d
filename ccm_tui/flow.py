"""The flow: one record per request, shared by the proxy, router, providers, bus and panes.

The proxy thread writes it; subscribers (TUI, ``serve`` printer) read it after each event.
Bodies are stored as parsed dicts; secrets never enter a flow because headers are stored
through :meth:`ccm_tui.secrets.Redactor.headers`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)

#: How many stream events a flow keeps for the inspector; the rest are only counted.
MAX_KEPT_EVENTS = 2000
#: How many bytes of the upstream's raw answer (before translation) a flow keeps for the inspector.
MAX_RAW_BYTES = 256 * 1024


@dataclass(slots=True)
class Decision:
    """Where the router sends a request, and why (``reason`` is shown to the user)."""

    route: str
    provider: str
    model: str
    reason: str
    estimated_tokens: int | None = None  # local count, when the router needed one

    def as_dict(self) -> dict[str, str]:
        return {"route": self.route, "provider": self.provider, "model": self.model, "reason": self.reason}


@dataclass(slots=True)
class Attempt:
    """One try against one upstream (retries and fallbacks add more)."""

    provider: str
    model: str
    started: float
    status: int | None = None
    error: str | None = None
    duration_ms: float | None = None


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def update(self, data: dict[str, Any] | None) -> None:
        """Merge an Anthropic usage object; counts are cumulative, so later values win."""
        if not data:
            return
        for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = data.get(name)
            if isinstance(value, int) and value >= 0:
                setattr(self, name, value)

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
        }


@dataclass(slots=True, eq=False, weakref_slot=True)  # a record: identity, weakly trackable
class Flow:
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: dict[str, Any] | None = None
    request_bytes: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    started_at: float = field(default_factory=time.time)
    t0: float = field(default_factory=time.perf_counter)
    kind: str = "messages"  # messages | count_tokens
    stream: bool = False
    session_id: str | None = None  # Claude Code's x-claude-code-session-id
    agent_id: str | None = None  # x-claude-code-agent-id: a subagent (absent on the main thread)
    parent_agent_id: str | None = None  # x-claude-code-parent-agent-id: a subagent's parent subagent
    #: the id of the flow this one replays (the proxy's own replay says so; kept out of the totals)
    replay_of: int | None = None
    estimated_input_tokens: int | None = None
    decision: Decision | None = None
    requested_model: str | None = None
    upstream_url: str | None = None
    upstream_body: dict[str, Any] | None = None
    upstream_status: int | None = None
    upstream_headers: dict[str, str] = field(default_factory=dict)
    upstream_raw: bytearray = field(default_factory=bytearray)  # the answer as received (keys scrubbed)
    upstream_raw_dropped: int = 0  # bytes past MAX_RAW_BYTES, only counted
    status: int | None = None
    response_body: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    events_dropped: int = 0
    first_byte_ms: float | None = None
    duration_ms: float | None = None
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: "provider,model" → [tool calls checked, invalid] (toolcheck.py), and whether the one
    #: retry an invalid tool call allows has been spent.
    tool_calls: dict[str, list[int]] = field(default_factory=dict)
    tool_call_retried: bool = False
    cost_usd: float = 0.0
    #: a refusal the client expects and handles (auto mode's ``safeguards`` handshake): not an error in totals
    expected_refusal: bool = False
    #: failed on this proxy's configuration (a provider without a key): no retry can fix it
    config_error: bool = False
    state: str = "pending"  # pending | routed | streaming | done | failed

    # -- helpers used by the proxy and providers ---------------------------------------------
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0

    def mark_first_byte(self) -> bool:
        """Record time to first byte once; True the first time."""
        if self.first_byte_ms is None:
            self.first_byte_ms = self.elapsed_ms()
            return True
        return False

    def keep_event(self, event: dict[str, Any]) -> None:
        if len(self.events) < MAX_KEPT_EVENTS:
            self.events.append(event)
        else:
            self.events_dropped += 1

    def keep_raw(self, data: bytes) -> None:
        room = MAX_RAW_BYTES - len(self.upstream_raw)
        self.upstream_raw += data[:max(room, 0)]
        self.upstream_raw_dropped += max(len(data) - max(room, 0), 0)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def route(self) -> str | None:
        return self.decision.route if self.decision else None

    @property
    def target(self) -> str | None:
        return f"{self.decision.provider},{self.decision.model}" if self.decision else None

    def summary(self) -> dict[str, Any]:
        """A flat, JSON-safe view (serve's log lines, JSONL export)."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "stream": self.stream,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "parent_agent_id": self.parent_agent_id,
            "replay_of": self.replay_of,
            "requested_model": self.requested_model,
            "decision": self.decision.as_dict() if self.decision else None,
            "status": self.status,
            "state": self.state,
            "first_byte_ms": self.first_byte_ms,
            "duration_ms": self.duration_ms,
            "usage": self.usage.as_dict(),
            "stop_reason": self.stop_reason,
            "error": self.error,
            "error_type": self.error_type,
            "attempts": [
                {"provider": a.provider, "model": a.model, "status": a.status, "error": a.error,
                 "duration_ms": a.duration_ms}
                for a in self.attempts
            ],
            "notes": list(self.notes),
            "tool_calls": {target: {"checked": c[0], "invalid": c[1]} for target, c in self.tool_calls.items()},
            "cost_usd": self.cost_usd,
        }
