"""Auth, errors in Anthropic's shape, count_tokens offline, health, models, the probe."""

from __future__ import annotations

import json

import httpx
import pytest


def post(proxy, path: str, body, *, token: str | None = None, raw: bytes | None = None):  # type: ignore[no-untyped-def]
    headers = {"x-api-key": proxy.token.reveal() if token is None else token, "content-type": "application/json"}
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(proxy.base_url + path, content=content, headers=headers)


VALID = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (json.dumps({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}).encode(), "model"),
        (json.dumps({"model": "m", "max_tokens": 5}).encode(), "messages"),
        (json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}).encode(), "max_tokens"),
        (json.dumps({"model": "m", "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]}).encode(),
         "max_tokens"),
        (json.dumps({"model": "m", "max_tokens": 5, "messages": []}).encode(), "messages"),
        (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]}).encode(), "role"),
        (json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "r"}]}]}).encode(), "no matching tool_use"),
    ],
)
def test_bad_requests_are_400_invalid_request(proxy, fake_anthropic, raw, fragment) -> None:
    response = post(proxy, "/v1/messages", None, raw=raw)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert fragment in error["error"]["message"]
    assert not fake_anthropic.requests, "nothing invalid goes upstream"


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_auth_required(proxy, fake_anthropic, token) -> None:
    response = post(proxy, "/v1/messages", VALID, token=token)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert not fake_anthropic.requests


def test_bearer_token_accepted(proxy) -> None:
    response = httpx.post(proxy.base_url + "/v1/messages", json=VALID,
                          headers={"authorization": f"Bearer {proxy.token.reveal()}"})
    assert response.status_code == 200


def test_unknown_path_is_404_in_anthropic_shape(proxy) -> None:
    response = httpx.get(proxy.base_url + "/v1/nope", headers={"x-api-key": proxy.token.reveal()})
    assert response.status_code == 404
    assert response.json() == {"type": "error", "error": {"type": "not_found_error",
                                                         "message": "no such endpoint: GET /v1/nope"}}


def test_probe_health_models(proxy) -> None:
    assert httpx.head(proxy.base_url + "/").status_code == 200
    assert httpx.get(proxy.base_url + "/health").json()["status"] == "ok"
    models = httpx.get(proxy.base_url + "/v1/models", headers={"x-api-key": proxy.token.reveal()}).json()
    assert [m["display_name"] for m in models["data"]] == ["anthropic,claude-sonnet-4-5", "anthropic,claude-haiku-4-5"]


def test_count_tokens_local_and_growing(proxy, fake_anthropic) -> None:
    small = post(proxy, "/v1/messages/count_tokens?beta=true", {"model": "m", "messages": VALID["messages"]})
    assert small.status_code == 200, small.text
    big_body = {"model": "m", "messages": VALID["messages"], "system": "You are terse. " * 50,
                "tools": [{"name": "Bash", "description": "Run a command",
                           "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]}
    big = post(proxy, "/v1/messages/count_tokens", big_body)
    assert 0 < small.json()["input_tokens"] < big.json()["input_tokens"]
    assert set(big.json()) == {"input_tokens"}
    assert not fake_anthropic.requests, "count_tokens is answered locally"
