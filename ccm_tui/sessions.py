"""The agent tree: session → main thread → subagents (nested by parent agent id), with totals per node.

Claude Code marks its requests with ``x-claude-code-session-id``, ``x-claude-code-agent-id`` and
``x-claude-code-parent-agent-id``; a client that sends none of them is one "unknown" session. The
tree is built from live flows (the Sessions pane) or from history records (``ccm-tui history``) alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .flow import Flow
from .history.store import FlowRecord
from .stats import TERMINAL_STATES, cache_hit_rate, percentile

UNKNOWN_SESSION = "unknown"
MAIN_THREAD = "main"
LATENCY_SAMPLES = 200  # per node, newest kept: p50 over a bounded window


@dataclass(slots=True)
class Sample:
    """What the tree needs of one request, from a live flow or a stored record."""

    session: str
    agent: str | None
    parent: str | None
    target: str | None
    route: str | None
    input_tokens: int  # uncached input, cache writes included
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    duration_ms: float | None
    error: bool
    running: bool

    @classmethod
    def of_flow(cls, flow: Flow) -> Sample:
        usage = flow.usage
        return cls(flow.session_id or UNKNOWN_SESSION, flow.agent_id, flow.parent_agent_id, flow.target, flow.route,
                   usage.input_tokens + usage.cache_creation_input_tokens, usage.output_tokens,
                   usage.cache_read_input_tokens, usage.cache_creation_input_tokens, flow.cost_usd or 0.0,
                   flow.duration_ms, flow.state == "failed" or (flow.status or 0) >= 400,
                   flow.state not in TERMINAL_STATES)

    @classmethod
    def of_record(cls, record: FlowRecord) -> Sample:
        target = f"{record.provider},{record.model}" if record.provider else None
        return cls(record.session_id or UNKNOWN_SESSION, record.agent_id, record.parent_agent_id, target,
                   record.route, record.input_tokens + record.cache_write_tokens, record.output_tokens,
                   record.cache_read_tokens, record.cache_write_tokens, record.cost_usd, record.duration_ms,
                   record.state == "failed" or (record.status or 0) >= 400, False)


@dataclass(slots=True)
class Node:
    """A session, its main thread, or one subagent; totals cover the node alone, not its children."""

    kind: str  # session | main | agent
    id: str
    session: str
    children: list[Node] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    running: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    routes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.requests += 1
        self.errors += sample.error
        self.running += sample.running
        self.input_tokens += sample.input_tokens
        self.output_tokens += sample.output_tokens
        self.cache_read_tokens += sample.cache_read_tokens
        self.cache_write_tokens += sample.cache_write_tokens
        self.cost_usd += sample.cost_usd
        for seen, value in ((self.routes, sample.route), (self.targets, sample.target)):
            if value and value not in seen:
                seen.append(value)
        if sample.duration_ms is not None and not sample.running:
            self.latencies.append(sample.duration_ms)
            del self.latencies[:-LATENCY_SAMPLES]

    @property
    def cache_hit_rate(self) -> float | None:
        return cache_hit_rate(self.cache_read_tokens, self.input_tokens)

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies, 50)

    def walk(self, depth: int = 0) -> Iterable[tuple[int, Node]]:
        """This node and its descendants, depth first, with their depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def total(self) -> Node:
        """A node summing this one and all its descendants (a session's or a subagent's whole tree)."""
        whole = Node(self.kind, self.id, self.session)
        for _, node in self.walk():
            for name in ("requests", "errors", "running", "input_tokens", "output_tokens", "cache_read_tokens",
                         "cache_write_tokens", "cost_usd"):
                setattr(whole, name, getattr(whole, name) + getattr(node, name))
            whole.routes += [r for r in node.routes if r not in whole.routes]
            whole.targets += [t for t in node.targets if t not in whole.targets]
            whole.latencies += node.latencies
        return whole


def flow_samples(flows: Iterable[Flow]) -> Iterable[Sample]:
    """The traffic of live flows (``count_tokens`` probes are local and not counted, as in the panes)."""
    return (Sample.of_flow(f) for f in flows if f.kind == "messages")


def record_samples(records: Iterable[FlowRecord]) -> Iterable[Sample]:
    return (Sample.of_record(r) for r in records if r.kind == "messages")


def build_tree(samples: Iterable[Sample]) -> list[Node]:
    """Sessions in order of first appearance, each with its main thread and nested subagents."""
    sessions: dict[str, Node] = {}
    agents: dict[tuple[str, str], Node] = {}
    parents: dict[tuple[str, str], str | None] = {}
    for sample in samples:
        session = sessions.get(sample.session)
        if session is None:
            session = sessions[sample.session] = Node("session", sample.session, sample.session)
            session.children.append(Node("main", MAIN_THREAD, sample.session))
        key = (sample.session, sample.agent or MAIN_THREAD)
        node = agents.get(key)
        if node is None:
            if sample.agent is None:
                node = session.children[0]
            else:
                node = Node("agent", sample.agent, sample.session)
                parents[key] = sample.parent
            agents[key] = node
        node.add(sample)
    # Nest subagents once every agent is known: a parent may appear after its child's first request.
    for key, parent_id in parents.items():
        session_id = key[0]
        parent_key = (session_id, parent_id) if parent_id else None
        host = agents.get(parent_key) if parent_key in parents and not _in_cycle(key, parents) else None
        (host or sessions[session_id].children[0]).children.append(agents[key])
    return list(sessions.values())


def _in_cycle(key: tuple[str, str], parents: dict[tuple[str, str], str | None]) -> bool:
    """Whether following parent ids from ``key`` comes back to it (a client's ids are not trusted)."""
    seen = {key}
    current: tuple[str, str] | None = key
    while current is not None and (parent_id := parents.get(current)):
        current = (key[0], parent_id)
        if current in seen:
            return True
        seen.add(current)
    return False


def node_filter(node: Node):  # type: ignore[no-untyped-def]
    """A predicate over flows: those that belong to ``node`` or below it (the requests table's filter)."""
    if node.kind == "session":
        return lambda flow: (flow.session_id or UNKNOWN_SESSION) == node.session
    ids = {n.id for _, n in node.walk() if n.kind == "agent"}
    if node.kind == "main":
        return lambda flow: (flow.session_id or UNKNOWN_SESSION) == node.session and flow.agent_id is None
    return lambda flow: (flow.session_id or UNKNOWN_SESSION) == node.session and flow.agent_id in ids
