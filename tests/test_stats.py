"""Pure dashboard aggregation: percentiles, sparkline, bounded history, totals that survive eviction."""

from __future__ import annotations

import pytest

from ccm_tui.flow import Decision, Flow
from ccm_tui.stats import FlowStore, context_tokens, percentile, sparkline


@pytest.mark.parametrize(("values", "pct", "expected"), [
    ([], 50, None),
    ([5.0], 95, 5.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([1.0, 2.0, 3.0, 4.0], 95, 4.0),
    (list(map(float, range(1, 101))), 95, 95.0),
    ([10.0, 1.0, 5.0], 50, 5.0),
])
def test_percentile(values: list[float], pct: float, expected: float | None) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(("values", "width", "expected"), [
    ([], 5, ""),
    ([1.0, 8.0], 5, "▂█"),
    ([0.0, 0.0], 5, "▁▁"),
    ([1.0, 2.0, 3.0, 4.0], 2, "▆█"),
])
def test_sparkline(values: list[float], width: int, expected: str) -> None:
    assert sparkline(values, width) == expected


def finished(route: str = "default", provider: str = "p", out: int = 1, state: str = "done") -> Flow:
    flow = Flow("POST", "/v1/messages", {})
    flow.decision = Decision(route, provider, "m", "why")
    flow.usage.input_tokens, flow.usage.output_tokens = 10, out
    flow.state, flow.status, flow.duration_ms, flow.first_byte_ms = state, 200 if state == "done" else 500, 20.0, 5.0
    return flow


def test_history_is_bounded_but_totals_count_everything() -> None:
    store = FlowStore(limit=3)
    flows = [finished(out=i) for i in range(10)]
    assert store.ingest(flows) == 10
    assert len(store) == 3 and store.dropped == 7 and store.seen == 10
    assert [store.at(i).id for i in range(3)] == [flows[9].id, flows[8].id, flows[7].id]  # newest first
    assert store.session.requests == 10 and store.session.output_tokens == sum(range(10))
    store.ingest([flows[0]])  # a late update of an evicted flow does not come back
    assert len(store) == 3 and store.session.requests == 10


def test_a_flow_is_counted_once_when_it_finishes() -> None:
    store = FlowStore()
    flow = finished()
    flow.state = "streaming"
    store.ingest([flow])
    assert store.session.requests == 0 and len(store) == 1
    flow.state = "done"
    store.ingest([flow])
    store.ingest([flow])
    assert store.session.requests == 1 and store.providers["p"].totals.requests == 1
    assert store.providers["p"].p("latency", 50) == 20.0 and store.providers["p"].p("ttft", 50) == 5.0


def test_errors_background_and_last_main() -> None:
    store = FlowStore()
    main, bg, bad = finished(), finished(route="background"), finished(state="failed")
    store.ingest([main, bg, bad])
    assert store.providers["p"].totals.errors == 1
    assert store.routes["background"].requests == 1
    assert store.last_main is bad  # newest non-background request
    assert context_tokens(main) == 10
    empty = Flow("POST", "/v1/messages", {})
    empty.estimated_input_tokens = 77
    assert context_tokens(empty) == 77


def test_counted_flows_are_not_kept_alive_by_the_store() -> None:
    import gc

    store = FlowStore(limit=2)
    store.ingest([finished() for _ in range(50)])
    gc.collect()
    assert store.session.requests == 50
    assert len(store._counted) == 2, "only flows still referenced (the two in view) are remembered"
