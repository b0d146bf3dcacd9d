"""Hot reload: an edit to the config file is swapped in whole (or refused whole), while requests run.

Each variant k of the config routes to ``model-k``, caps output at ``1000 + k`` tokens and prices
only ``model-k``: a request that mixed two snapshots (routed by one, clamped or charged by another)
shows a model, a max_tokens and a cost that do not belong together.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from ccm_tui.config import load_config
from ccm_tui.events import EventBus, FlowEvent, SessionUpdate
from ccm_tui.flow import Flow
from tests.conftest import CANARY_KEY
from tests.fakes.anthropic_server import Reply

SWAPS = 24


def variant(base_url: str, k: int) -> str:
    return f"""# variant {k}
[providers.up]
type = "anthropic"
base_url = "{base_url}"
api_key = "$TEST_ANTHROPIC_KEY"
max_tokens_cap = {1000 + k}

[router]
default = "up,model-{k}"

[prices]
"model-{k}" = {{ input = {k}.0, output = {k}.0 }}
"""


INVALID = """[providers.up]
type = "anthropic"
base_url = "not a url"

[router]
default = "up,model-9"
"""


@pytest.fixture
def setup(tmp_path: Path, fake_anthropic, start_proxy, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", CANARY_KEY)
    path = tmp_path / "config.toml"
    path.write_text(variant(fake_anthropic.base_url, 1))
    bus = EventBus()
    flows: list[Flow] = []
    updates: list[tuple[float, SessionUpdate]] = []
    lock = threading.Lock()

    def on_flow(event: FlowEvent, flow: Flow) -> None:
        if event in (FlowEvent.FINISHED, FlowEvent.FAILED):
            with lock:
                flows.append(flow)

    bus.subscribe(on_flow)
    bus.subscribe_session(lambda update: updates.append((time.monotonic(), update)))
    server = start_proxy(load_config(path), bus)
    return server, path, flows, updates


def consistent(flow: Flow) -> bool:
    k = int(flow.decision.model.removeprefix("model-"))  # type: ignore[union-attr]
    expected_cost = (12 * k + 7 * k) / 1e6
    return flow.upstream_body["max_tokens"] == 1000 + k and abs(flow.cost_usd - expected_cost) < 1e-9  # type: ignore[index, operator]


async def _load(server, path: Path, base_url: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Streams that each outlast several swaps, while the file is rewritten, valid and not."""
    stop = asyncio.Event()
    statuses: list[int] = []

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(40):
                if stop.is_set():
                    return
                async with http.stream("POST", server.base_url + "/v1/messages", headers={
                        "x-api-key": server.token.reveal(), "anthropic-version": "2023-06-01"},
                        json={"model": "m", "max_tokens": 64_000, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]}) as response:
                    await response.aread()
                    statuses.append(response.status_code)

    clients = [asyncio.ensure_future(client()) for _ in range(6)]
    for swap in range(SWAPS):
        path.write_text(INVALID if swap % 4 == 3 else variant(base_url, 1 + swap % 5))
        await asyncio.wrap_future(server.command(lambda session: session.reload("test")))
        await asyncio.sleep(0.03)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*clients), 60)
    return statuses


def test_requests_never_see_a_half_applied_config(setup, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    server, path, flows, updates = setup
    fake_anthropic.default = Reply(text="one two three four five six", chunk_delay=0.02)  # ~0.15 s a stream
    statuses = asyncio.run(_load(server, path, fake_anthropic.base_url))
    assert statuses and set(statuses) == {200}
    assert len(flows) == len(statuses)
    assert all(consistent(flow) for flow in flows), [
        (f.decision.model, f.upstream_body["max_tokens"], f.cost_usd) for f in flows if not consistent(f)]
    assert len({flow.decision.model for flow in flows}) >= 3, "the swaps reached the requests"
    swaps = [at for at, update in updates if update.kind == "reload"]
    straddled = [f for f in flows if any(f.started_at < at - time.monotonic() + time.time()
                                         < f.started_at + f.duration_ms / 1000 for at in swaps)]
    assert straddled, "some requests ran across a swap"
    refused = [update for _, update in updates if update.problems]
    assert refused and all(any("providers.up.base_url: must be an http(s) URL" in p for p in u.problems)
                           for u in refused)
    assert all(f"{path}:3: providers.up.base_url" in u.problems[0] for u in refused), refused[0].problems
    deadline = time.monotonic() + 10
    while server.state.open_providers() != 1:  # each swap replaced the provider; replaced ones close once idle
        assert time.monotonic() < deadline, server.state.open_providers()
        time.sleep(0.05)


def test_the_watcher_applies_a_valid_edit_and_refuses_an_invalid_one(setup, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    server, path, flows, updates = setup
    headers = {"x-api-key": server.token.reveal()}
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}

    def wait(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 15
        while not predicate():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    path.write_text(INVALID)
    wait(lambda: any(u.problems for _, u in updates), "the invalid edit was reported")
    problems = next(u.problems for _, u in updates if u.problems)
    assert any(f"{path}:3: providers.up.base_url" in p for p in problems), problems
    assert httpx.post(server.base_url + "/v1/messages", json=body, headers=headers).status_code == 200
    assert fake_anthropic.requests[-1]["body"]["model"] == "model-1", "the previous config stays in force"

    path.write_text(variant(fake_anthropic.base_url, 2))
    wait(lambda: server.config.router.routes["default"] == "up,model-2", "the valid edit was applied")
    assert any(u.message.startswith("config reloaded (file changed): providers, router, prices") for _, u in updates)
    assert httpx.post(server.base_url + "/v1/messages", json=body, headers=headers).status_code == 200
    assert fake_anthropic.requests[-1]["body"]["model"] == "model-2"
