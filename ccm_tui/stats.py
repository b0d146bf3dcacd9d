"""What the dashboard shows, computed without any UI: bounded flow history and running totals.

The history keeps the newest ``limit`` flows for the requests table (older ones are counted in
``dropped``); totals and latency samples are accumulated once per finished flow, so they stay
right after a flow has left the history.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .flow import Flow

DEFAULT_HISTORY = 5000
SAMPLES = 200  # latency samples kept per provider for p50/p95 and the sparkline
TERMINAL_STATES = ("done", "failed")
BACKGROUND_ROUTES = ("background", "subagent")
_BLOCKS = "▁▂▃▄▅▆▇█"


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def cache_hit_rate(cache_read: int, other_input: int) -> float | None:
    """Share of input tokens served from a prompt cache; None before any input was seen."""
    total = cache_read + other_input
    return cache_read / total if total else None


def sparkline(values: Iterable[float], width: int = 12) -> str:
    """The last ``width`` values as block characters scaled to their maximum."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    top = max(tail) or 1.0
    return "".join(_BLOCKS[min(len(_BLOCKS) - 1, int(v / top * (len(_BLOCKS) - 1) + 0.5))] for v in tail)


@dataclass(slots=True)
class Totals:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, flow: Flow) -> None:
        self.requests += 1
        if (flow.state == "failed" or (flow.status or 0) >= 400) and not flow.expected_refusal:
            self.errors += 1
        self.input_tokens += flow.usage.input_tokens + flow.usage.cache_creation_input_tokens
        self.cache_read_tokens += flow.usage.cache_read_input_tokens
        self.output_tokens += flow.usage.output_tokens
        self.cost_usd += flow.cost_usd or 0.0


@dataclass(slots=True)
class ProviderStats:
    totals: Totals = field(default_factory=Totals)
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    ttft_ms: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def p(self, which: str, pct: float) -> float | None:
        return percentile(list(self.latency_ms if which == "latency" else self.ttft_ms), pct)


def context_tokens(flow: Flow) -> int | None:
    """The prompt size of a request: reported usage when known, else the router's estimate."""
    u = flow.usage
    reported = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    return reported or flow.estimated_input_tokens


class FlowStore:
    """Flows by id, newest first, bounded; plus the aggregates the panes show."""

    def __init__(self, limit: int = DEFAULT_HISTORY) -> None:
        self.limit = limit
        self._order: deque[Flow] = deque()
        self._by_id: dict[int, Flow] = {}
        # Weak: a finished flow stays counted while anything can still hand it back (a late
        # event), and the set does not grow with the session once flows are gone.
        self._counted: weakref.WeakSet[Flow] = weakref.WeakSet()
        self.dropped = 0
        self._floor = 0  # highest id dropped from view: a late update must not bring it back
        self.seen = 0
        self.providers: dict[str, ProviderStats] = {}
        self.routes: dict[str, Totals] = {}
        self.models: dict[str, Totals] = {}
        #: "provider,model" → [tool calls checked, invalid]: the first measured quality signal.
        self.tool_calls: dict[str, list[int]] = {}
        self.session = Totals()
        self.replays = Totals()  # replays (``Flow.replay_of``): their own line, out of every other total
        self.last_main: Flow | None = None

    def __len__(self) -> int:
        return len(self._order)

    def get(self, flow_id: int) -> Flow | None:
        return self._by_id.get(flow_id)

    def at(self, index: int) -> Flow:
        """Row ``index`` of the newest-first view."""
        return self._order[len(self._order) - 1 - index]

    def index_of(self, flow_id: int) -> int | None:
        flow = self._by_id.get(flow_id)
        if flow is None:
            return None
        for i in range(len(self._order)):  # newest rows are the likely ones
            if self.at(i) is flow:
                return i
        return None

    def newest_first(self) -> list[Flow]:
        return list(reversed(self._order))

    def ingest(self, flows: Iterable[Flow]) -> int:
        """Add or update flows; returns how many were new."""
        new = 0
        for flow in flows:
            if flow.id not in self._by_id and flow.id > self._floor:
                self._by_id[flow.id] = flow
                self._order.append(flow)
                self.seen += 1
                new += 1
            self._account(flow)
        while len(self._order) > self.limit:
            old = self._order.popleft()
            self._by_id.pop(old.id, None)
            self._floor = max(self._floor, old.id)
            self.dropped += 1
        return new

    def _account(self, flow: Flow) -> None:
        replay = flow.replay_of is not None
        if flow.kind == "messages" and flow.decision is not None and flow.route not in BACKGROUND_ROUTES \
                and not replay and context_tokens(flow):  # a request still without a size keeps the last one
            if self.last_main is None or flow.id >= self.last_main.id:
                self.last_main = flow
        if flow.state not in TERMINAL_STATES or flow in self._counted or flow.kind != "messages":
            return
        self._counted.add(flow)
        if replay:
            self.replays.add(flow)
            return
        self.session.add(flow)
        provider = flow.decision.provider if flow.decision else "(unrouted)"
        stats = self.providers.setdefault(provider, ProviderStats())
        stats.totals.add(flow)
        if flow.state == "done" and flow.duration_ms is not None:
            stats.latency_ms.append(flow.duration_ms)
            if flow.first_byte_ms is not None:
                stats.ttft_ms.append(flow.first_byte_ms)
        self.routes.setdefault(flow.route or "(unrouted)", Totals()).add(flow)
        self.models.setdefault(flow.target or "(unrouted)", Totals()).add(flow)
        for target, (checked, invalid) in flow.tool_calls.items():
            counts = self.tool_calls.setdefault(target, [0, 0])
            counts[0] += checked
            counts[1] += invalid

    def invalid_tool_rate(self, provider: str) -> tuple[int, int]:
        """(invalid, checked) tool calls over the provider's models."""
        pairs = [c for target, c in self.tool_calls.items() if target.split(",", 1)[0] == provider]
        return sum(c[1] for c in pairs), sum(c[0] for c in pairs)
