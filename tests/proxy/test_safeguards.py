"""Auto mode's `safeguards` (Claude Code 2.1.330): kept for Anthropic, a 400 naming them elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import anthropic_config
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.providers.test_openai_provider import chunk, openai_config

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures/claude-code/v2330_auto_mode_safeguards.json").read_text())


def post(server, body: dict) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(server.base_url + "/v1/messages?beta=true", json=body, timeout=30,
                      headers={"x-api-key": server.token.reveal(), **FIXTURE["headers"]})


def test_non_anthropic_route_answers_400_naming_safeguards_and_sends_nothing(start_proxy) -> None:
    with FakeOpenAI() as fake:
        fake.script(Reply.sse([chunk({"content": "ok"}), chunk({}, "stop")]))
        server = start_proxy(openai_config(fake.base_url))
        refused = post(server, FIXTURE["body"])
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"].startswith("safeguards:")
        assert fake.requests == [], "nothing reaches a provider that cannot honour them"
        retried = post(server, {k: v for k, v in FIXTURE["body"].items() if k != "safeguards"})
        assert retried.status_code == 200, retried.text
        assert len(fake.requests) == 1


def test_anthropic_route_forwards_safeguards(fake_anthropic, start_proxy) -> None:
    server = start_proxy(anthropic_config(fake_anthropic.base_url))
    assert post(server, FIXTURE["body"]).status_code == 200
    assert fake_anthropic.requests[-1]["body"]["safeguards"] == FIXTURE["body"]["safeguards"]
