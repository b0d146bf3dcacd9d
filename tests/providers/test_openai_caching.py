"""Prompt caching through the Chat path: a session-stable prompt_cache_key (OpenAI) and Claude Code's
cache_control breakpoints kept where only they make a cache (OpenRouter's Anthropic and Gemini models)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccm_tui.config import ConfigError, parse_config
from ccm_tui.providers.openai.caching import keep_breakpoints, session_key
from ccm_tui.providers.openai.presets import get_preset
from ccm_tui.providers.openai.request import translate_request
from tests.fakes.openai_server import FakeOpenAI, Reply

FIXTURE = json.loads((__import__("pathlib").Path(__file__).parents[1] / "fixtures" / "claude-code" /
                      "tool_result_followup.json").read_text())
ANSWER = {"id": "c", "object": "chat.completion", "model": "m", "choices": [
    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 900}}}


def marked(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content)


def test_session_key_comes_from_the_header_or_the_user_ids_session_part() -> None:
    assert session_key({}, "abc") == "ccm-abc"
    assert session_key({"metadata": {"user_id": "user_x_account__session_123-4"}}, None) == "ccm-123-4"
    assert session_key({"metadata": {"user_id": json.dumps({"session_id": "s-9"})}}, None) == "ccm-s-9"
    assert session_key({"metadata": {"user_id": "plain"}}, None) is None


def test_claude_codes_breakpoints_are_kept_on_the_system_and_the_newest_user_turn() -> None:
    body = FIXTURE["body"]
    assert any("cache_control" in b for b in body["system"]), "the real request marks its system prompt"
    openrouter = get_preset("openrouter")
    for model, kept in (("anthropic/claude-sonnet-4.5", True), ("google/gemini-2.5-pro", True),
                        ("openai/gpt-4o", False)):
        messages = translate_request({**body, "model": model}, openrouter, session="ccm-s").payload["messages"]
        assert marked(messages[0]) is kept and messages[0]["role"] == "system"
        tail = [m for m in messages if m["role"] in ("user", "tool")][-1]
        assert marked(tail) is kept, model
        assert sum(marked(m) for m in messages) == (2 if kept else 0), "nothing the client did not mark"
    assert "prompt_cache_key" not in translate_request(body, openrouter, session="ccm-s").payload


def test_unmarked_requests_stay_strings() -> None:
    body = {"model": "m", "system": "plain", "messages": [{"role": "user", "content": "hi"}]}
    messages = translate_request(body, get_preset("openai")).payload["messages"]
    keep_breakpoints(messages, body)
    assert messages == [{"role": "system", "content": "plain"}, {"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lambda _request: Reply.json(ANSWER)) as server:
        yield server


def test_openai_gets_one_cache_key_per_session_through_the_proxy(fake, start_proxy) -> None:
    config = parse_config(f'[providers.oai]\ntype = "openai"\npreset = "openai"\nbase_url = "{fake.base_url}"\n'
                          f'api_key = "k"\n[router]\ndefault = "oai,gpt-4o"\n')
    proxy = start_proxy(config)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    for session in ("s-1", "s-1", "s-2"):
        response = httpx.post(proxy.base_url + "/v1/messages", json=body, timeout=30,
                              headers={"x-api-key": proxy.token.reveal(), "x-claude-code-session-id": session})
        assert response.status_code == 200, response.text
        assert response.json()["usage"]["cache_read_input_tokens"] == 900
    assert [b["prompt_cache_key"] for b in fake.bodies()] == ["ccm-s-1", "ccm-s-1", "ccm-s-2"]


def test_cache_control_models_is_a_checked_option() -> None:
    with pytest.raises(ConfigError, match="cache_control_models"):
        parse_config('[providers.o]\ntype = "openai"\nbase_url = "http://x"\napi_key = "k"\n'
                     'options = { cache_control_models = "(" }\n[router]\ndefault = "o,m"\n')
