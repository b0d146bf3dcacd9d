"""What history keeps of a flow, and the interface a store implements.

A :class:`FlowRecord` is a flat, redacted copy of a finished flow, made from its :func:`snapshot`
(plain data, taken on the writer's thread after the flow has ended: nothing writes a flow after
``finished``/``failed``), usually in the writer process. Bodies are kept as zlib-compressed JSON,
capped per flow.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..flow import Attempt, Decision, Flow
from ..secrets import Redactor
from ..stats import cache_hit_rate

#: A flow whose bodies take more than this (JSON, before compression) keeps a marker instead.
MAX_BODY_BYTES_PER_FLOW = 4 * 1024 * 1024
BODY_PARTS = ("request", "upstream", "response", "events")
GROUPINGS = ("day", "provider", "model", "route", "session")


@dataclass(slots=True)
class FlowRecord:
    process: str  # flow ids restart in every process: (process, flow_id) is the key
    flow_id: int
    started_at: float
    kind: str
    stream: bool
    session_id: str | None
    agent_id: str | None
    parent_agent_id: str | None
    requested_model: str | None
    route: str | None
    provider: str | None
    model: str | None
    reason: str | None
    status: int | None
    state: str
    first_byte_ms: float | None
    duration_ms: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    stop_reason: str | None
    error: str | None
    error_type: str | None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bodies: bytes | None = None  # zlib(JSON {request, upstream, response, events}) or None
    body_bytes: int = 0  # uncompressed size of ``bodies`` (what the size cap counts)


#: A finished flow as plain data (built-in types only, so it can cross to the writer process by
#: ``marshal``): FlowRecord's fields from ``flow_id`` to ``error_type``, then the attempts as tuples,
#: the notes, and the bodies (request, upstream, response, events). Redaction comes later.
Snapshot = tuple[Any, ...]


def snapshot(flow: Flow) -> Snapshot:
    """What history keeps of a flow that has ended (nothing writes it after ``finished``/``failed``)."""
    decision, usage = flow.decision, flow.usage
    return (flow.id, flow.started_at, flow.kind, flow.stream, flow.session_id, flow.agent_id, flow.parent_agent_id,
            flow.requested_model, decision.route if decision else None, decision.provider if decision else None,
            decision.model if decision else None, decision.reason if decision else None,
            flow.status, flow.state, flow.first_byte_ms, flow.duration_ms, usage.input_tokens, usage.output_tokens,
            usage.cache_read_input_tokens, usage.cache_creation_input_tokens, flow.cost_usd or 0.0,
            flow.stop_reason, flow.error, flow.error_type,
            [(a.provider, a.model, a.status, a.error, a.duration_ms) for a in flow.attempts], list(flow.notes),
            (flow.request_body, flow.upstream_body, flow.response_body, flow.events or None))


def _bodies(parts: Sequence[Any], redactor: Redactor) -> tuple[bytes | None, int]:
    raw = json.dumps({k: v for k, v in zip(BODY_PARTS, parts, strict=True) if v is not None}, ensure_ascii=False,
                     separators=(",", ":"))
    raw = redactor.text(raw)  # one pass over the whole text: a key anywhere in any body is gone
    if len(raw) > MAX_BODY_BYTES_PER_FLOW:
        raw = json.dumps({"omitted": f"bodies of {len(raw)} bytes exceed the per-request cap"})
    data = raw.encode("utf-8", "surrogatepass")
    return zlib.compress(data, 1), len(data)  # level 1: half of level 6's CPU on a real Claude Code body, ~18 % larger


def record_from(snap: Snapshot, process: str, redactor: Redactor, *, bodies: bool) -> FlowRecord:
    """The redacted record of a :func:`snapshot` (``bodies``: keep them, compressed)."""
    *fields, error, error_type, attempts, notes, parts = snap
    blob, size = _bodies(parts, redactor) if bodies and fields[2] == "messages" else (None, 0)
    return FlowRecord(
        process, *fields, error=redactor.text(error) if error else None, error_type=error_type,
        attempts=[{"provider": provider, "model": model, "status": status,
                   "error": redactor.text(failure) if failure else None, "duration_ms": duration}
                  for provider, model, status, failure, duration in attempts],
        notes=[redactor.text(n) for n in notes], bodies=blob, body_bytes=size,
    )


def record_of(flow: Flow, process: str, redactor: Redactor, *, bodies: bool) -> FlowRecord:
    return record_from(snapshot(flow), process, redactor, bodies=bodies)


def decode_bodies(blob: bytes | None) -> dict[str, Any]:
    return json.loads(zlib.decompress(blob)) if blob else {}


def flow_of(record: FlowRecord) -> Flow:
    """A stored record as a (finished) flow the panes and the inspector can show, and replay can send.

    It gets a new flow id (ids restart in every process); the recorded one is kept in a note.
    """
    bodies = decode_bodies(record.bodies)
    flow = Flow("POST", "/v1/messages" if record.kind == "messages" else "/v1/messages/count_tokens", {},
                request_body=bodies.get("request"), started_at=record.started_at, kind=record.kind,
                stream=record.stream)
    flow.session_id, flow.agent_id, flow.parent_agent_id = record.session_id, record.agent_id, record.parent_agent_id
    flow.requested_model = record.requested_model
    if record.provider is not None and record.model is not None:
        flow.decision = Decision(record.route or "-", record.provider, record.model, record.reason or "")
    flow.upstream_body, flow.response_body = bodies.get("upstream"), bodies.get("response")
    flow.events = bodies.get("events") or []
    flow.status, flow.state, flow.stop_reason = record.status, record.state, record.stop_reason
    flow.first_byte_ms, flow.duration_ms = record.first_byte_ms, record.duration_ms
    flow.usage.update({"input_tokens": record.input_tokens, "output_tokens": record.output_tokens,
                       "cache_read_input_tokens": record.cache_read_tokens,
                       "cache_creation_input_tokens": record.cache_write_tokens})
    flow.cost_usd, flow.error, flow.error_type = record.cost_usd, record.error, record.error_type
    flow.attempts = [Attempt(a.get("provider") or "", a.get("model") or "", record.started_at, a.get("status"),
                             a.get("error"), a.get("duration_ms")) for a in record.attempts]
    flow.notes = [f"recorded as #{record.flow_id} of process {record.process}", *record.notes]
    return flow


@dataclass(slots=True)
class UsageRow:
    """One group of ``ccm-tui usage`` (and of a session's totals)."""

    key: str
    requests: int
    errors: int
    input_tokens: int  # uncached input, cache writes included (as the panes count it)
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float

    @property
    def cache_hit_rate(self) -> float | None:
        return cache_hit_rate(self.cache_read_tokens, self.input_tokens)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "requests": self.requests, "errors": self.errors,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens,
                "cache_hit_rate": self.cache_hit_rate, "cost_usd": round(self.cost_usd, 6)}


@dataclass(slots=True)
class SessionRow:
    session_id: str  # "unknown" for clients that send no session header
    first_at: float
    last_at: float
    agents: int
    models: str  # comma-separated provider,model targets
    usage: UsageRow


class HistoryStore(Protocol):
    """The seam between ccm-tui and where history lives (SQLite here; a server database for teams)."""

    def write(self, records: Sequence[FlowRecord]) -> None: ...

    def prune(self, *, retention_s: float, max_body_bytes: int) -> None: ...

    def sessions(self, *, since: float, session: str | None = None) -> list[SessionRow]: ...

    def usage(self, *, since: float, by: str) -> list[UsageRow]: ...

    def records(self, *, since: float, session: str | None = None,
                with_bodies: bool = False) -> Iterable[FlowRecord]: ...

    def close(self) -> None: ...
