"""Price table, per-flow cost, and the session cap that refuses requests once spent."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import pytest

from ccm_tui.config import Config, Price
from ccm_tui.flow import Usage
from ccm_tui.proxy.budget import BUILTIN_PRICES, cost_usd, price_for
from tests.reliability.conftest import BODY, auth, message_json, stream

PRICES = '[prices]\n"m-main" = { input = 3.0, output = 15.0 }\n'
COST = (12 * 3.0 + 7 * 15.0) / 1e6  # the fakes report 12 input and 7 output tokens


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5", (3.0, 15.0)),
        ("claude-sonnet-4-5-20250929", (3.0, 15.0)),
        ("claude-opus-4-1-20250805", (15.0, 75.0)),
        ("claude-opus-4-5-20251101", (5.0, 25.0)),
        ("claude-haiku-4-5", (1.0, 5.0)),
        ("anthropic/claude-sonnet-4.5", (3.0, 15.0)),
        ("openai/gpt-4o-mini", (0.15, 0.6)),
        ("gpt-4o", (2.5, 10.0)),
        ("gpt-4.1-mini", (0.4, 1.6)),
        ("gemini-2.5-flash-lite", (0.1, 0.4)),
        ("gemini-2.5-flash", (0.3, 2.5)),
        ("deepseek-chat", (0.27, 1.1)),
        ("gpt-4oops", None),
        ("some-local-model", None),
    ],
)
def test_builtin_prices_match_by_longest_prefix(model, expected) -> None:
    price = price_for(Config(), "p", model)
    assert (None if price is None else (price.input, price.output)) == expected


def test_config_prices_win_and_may_name_provider() -> None:
    config = Config(prices={"claude-sonnet-4-5": Price(1.0, 2.0), "local,llama": Price(0.5, 0.5),
                            "my-model": Price(9.0, 9.0)})
    assert price_for(config, "x", "claude-sonnet-4-5-20250929") == Price(1.0, 2.0)
    assert price_for(config, "local", "llama") == Price(0.5, 0.5)
    assert price_for(config, "x", "my-model-v2") == Price(9.0, 9.0)
    assert price_for(config, "x", "claude-haiku-4-5") == BUILTIN_PRICES["claude-haiku-4-5"]


def test_cost_counts_cache_reads_and_writes() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_input_tokens=1_000_000,
                  cache_creation_input_tokens=1_000_000)
    assert cost_usd(Price(3.0, 15.0), usage) == pytest.approx(3.0 + 1.5 + 0.3 + 3.75)


def test_every_flow_gets_a_cost(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(top=PRICES)
    hostile.script = [message_json(), stream()]
    httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server)).raise_for_status()
    with httpx.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                      headers=auth(server)) as response:
        response.read()
    httpx.post(server.base_url + "/v1/messages/count_tokens", json={"model": "m", "messages": BODY["messages"]},
               headers=auth(server)).raise_for_status()
    assert [f.kind for f in flows] == ["messages", "messages", "count_tokens"]
    assert [f.cost_usd for f in flows] == [pytest.approx(COST), pytest.approx(COST), 0.0]
    assert flows[0].summary()["cost_usd"] == pytest.approx(COST)
    ledger = server.session.ledger
    assert ledger.spent_usd == pytest.approx(2 * COST) and ledger.spent_tokens == 38 and not ledger.reserved


def test_max_usd_refuses_once_exceeded_and_says_so(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(top=PRICES + "[budget]\nmax_usd = 0.0002\n")
    hostile.default = message_json()
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal())  # default SDK retries
    client.messages.create(**BODY)  # $0.000141
    client.messages.create(**BODY)  # under the cap when it started: $0.000282 after
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(**BODY)
    message = info.value.body["error"]["message"]
    assert "budget exceeded" in message and "$0.0003" in message and "$0.0002 cap" in message
    assert "max_usd" in message
    from ccm_tui.proxy.budget import spend_text

    ledger = server.session.ledger
    assert spend_text(ledger.spent_usd, ledger.spent_tokens, server.config) == "$0.0003 / $0.0002"
    assert info.value.response.headers["x-should-retry"] == "false"
    assert len(hostile.requests) == 2, "refused locally, and the SDK did not retry"
    assert flows[-1].error_type == "rate_limit_error" and flows[-1].cost_usd == 0.0
    count = httpx.post(server.base_url + "/v1/messages/count_tokens",
                       json={"model": "m", "messages": BODY["messages"]}, headers=auth(server))
    assert count.status_code == 200, "counting tokens costs nothing and stays available"


def test_max_tokens_cap(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy(top="[budget]\nmax_tokens = 30\n")
    hostile.default = message_json()
    statuses = [httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert "38 tokens of its 30 cap ([budget] max_tokens)" in statuses[2].json()["error"]["message"]


def test_unpriced_model_costs_zero_with_a_note(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy()
    hostile.default = message_json()
    httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server)).raise_for_status()
    assert flows[-1].cost_usd == 0.0
    assert any("no price for 'm-main'" in n for n in flows[-1].notes)


async def _concurrent(server, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    async def one(client: httpx.AsyncClient) -> int:
        async with client.stream("POST", server.base_url + "/v1/messages", json={**BODY, "stream": True},
                                 headers=auth(server)) as response:
            await response.aread()
            return response.status_code

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(await asyncio.gather(*(one(client) for _ in range(n))))


def test_cap_holds_under_concurrent_streams(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(top=PRICES + f"[budget]\nmax_usd = {COST}\n")  # the cap = one request
    hostile.default = stream(gaps={0: 0.5})  # every stream is still open when the others arrive
    statuses = asyncio.run(_concurrent(server, 50))
    assert statuses.count(200) == 1 and statuses.count(429) == 49, statuses
    assert len(hostile.requests) == 1, "refused locally"
    spent = sum(f.cost_usd or 0.0 for f in flows)
    assert spent <= COST + COST, "over the cap by at most one request"
    refusal = next(f for f in flows if f.error_type == "rate_limit_error")
    assert "in flight hold" in (refusal.error or ""), refusal.error
    assert not server.session.ledger.reserved, "every reservation settled"


def test_first_request_under_an_untouched_cap_is_served(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy(top=PRICES + "[budget]\nmax_usd = 0.000001\nmax_tokens = 5\n")
    hostile.default = message_json()
    first = httpx.post(server.base_url + "/v1/messages", json={**BODY, "max_tokens": 4000}, headers=auth(server))
    assert first.status_code == 200, "its estimate alone is over both caps, yet nothing was spent or in flight"
    assert httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server)).status_code == 429


def test_concurrent_requests_share_a_cap_by_their_estimates(hostile, start_hostile_proxy, flows) -> None:
    server = start_hostile_proxy(top=PRICES + f"[budget]\nmax_usd = {10 * COST}\n")
    hostile.default = message_json()
    warm_up = httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server))
    assert warm_up.status_code == 200  # the session's typical output is now 7 tokens
    hostile.default = stream(gaps={0: 0.5})
    statuses = asyncio.run(_concurrent(server, 20))
    served = statuses.count(200)
    assert 5 <= served <= 10 and statuses.count(429) == 20 - served, statuses
    assert sum(f.cost_usd or 0.0 for f in flows) <= 11 * COST + 1e-12, "over the cap by at most one request"
    assert not server.session.ledger.reserved
