"""``api = "responses"`` over real HTTP: the official anthropic SDK → the real proxy → OpenAIProvider
→ a fake Responses server on 127.0.0.1, and back. The SDK's stream parser judges the SSE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from ccm_tui.config import ConfigError, parse_config
from ccm_tui.providers.openai.responses_response import decode_reasoning, encode_reasoning
from tests.fakes.openai_server import Reply
from tests.fakes.responses_server import (
    EventReply,
    FakeOpenAI,
    function_call,
    message,
    reasoning,
    response,
    stream_events,
    usage,
)

KEY = "sk-responses-canary-77c1"
TOOLS = [{"name": "Bash", "description": "run a command", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]
ARGS = json.dumps({"command": "ls -la ~/café"})
OUTPUT = [reasoning("I should look.", "ENC-1"), message("Let me check. ✓"), function_call("Bash", ARGS, "call_A")]
USAGE = usage(120, 17, cached=100, reasoning_tokens=4)
REQUEST = dict(model="claude-opus-4-8", max_tokens=1000, tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 5000},
               messages=[{"role": "user", "content": [{"type": "text", "text": "list files",
                                                       "cache_control": {"type": "ephemeral"}}]}])


def responses_config(base_url: str, extra: str = 'api = "responses"') -> Any:
    return parse_config(f"""
[providers.oai]
type = "openai"
base_url = "{base_url}"
api_key = "$OAI_KEY"
models = ["gpt-5.1"]
{extra}

[router]
default = "oai,gpt-5.1"
""", env={"OAI_KEY": KEY})


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI, start_proxy) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    proxy = start_proxy(responses_config(fake.base_url))
    return anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0, timeout=20)


def test_stream_and_non_stream_agree_through_the_sdk(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    fake.script(EventReply(events=stream_events(OUTPUT, USAGE), piece=[3, 40, 7]), Reply.json(response(OUTPUT, USAGE)))
    with client.messages.stream(**REQUEST) as stream:
        texts = list(stream.text_stream)
        streamed = stream.get_final_message()
    plain = client.messages.create(**REQUEST)
    assert "".join(texts) == "Let me check. ✓"
    assert streamed.model_dump(exclude={"id"}) == plain.model_dump(exclude={"id"})
    assert [b.type for b in streamed.content] == ["thinking", "text", "tool_use"]
    assert decode_reasoning(streamed.content[0].signature) == {"id": "rs_1", "encrypted_content": "ENC-1"}
    assert (streamed.content[2].id, streamed.content[2].input) == ("call_A", json.loads(ARGS))
    assert streamed.stop_reason == "tool_use" and streamed.model == "claude-opus-4-8"
    assert (streamed.usage.input_tokens, streamed.usage.output_tokens, streamed.usage.cache_read_input_tokens) == (20, 17, 100)
    sent = fake.requests[0]
    assert sent.path == "/v1/responses" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["stream"] is True and "stream" not in fake.requests[1].body
    assert sent.body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert sent.body["store"] is False and sent.body["include"] == ["reasoning.encrypted_content"]
    assert sent.body["max_output_tokens"] == 1000 and "cache_control" not in json.dumps(sent.body)


@pytest.mark.parametrize("crlf", [False, True])
def test_byte_split_stream_with_crlf(client: anthropic.Anthropic, fake: FakeOpenAI, crlf: bool) -> None:
    fake.script(EventReply(events=stream_events(OUTPUT, USAGE, piece=2), piece=1, crlf=crlf))
    with client.messages.stream(**REQUEST) as stream:
        final = stream.get_final_message()
    assert final.content[1].text == "Let me check. ✓" and final.content[2].input == json.loads(ARGS)


def test_second_turn_carries_the_reasoning_item_back(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    fake.script(EventReply(events=stream_events(OUTPUT, USAGE)),
                EventReply(events=stream_events([message("Two files.")], USAGE)))
    with client.messages.stream(**REQUEST) as stream:
        first = stream.get_final_message()
    history = [*REQUEST["messages"], {"role": "assistant", "content": [b.model_dump() for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_A", "content": "a b"}]}]
    with client.messages.stream(**{**REQUEST, "messages": history}) as stream:
        assert stream.get_final_message().content[0].text == "Two files."
    items = fake.requests[1].body["input"]
    assert [i["type"] for i in items] == ["message", "reasoning", "message", "function_call", "function_call_output"]
    assert items[1]["encrypted_content"] == "ENC-1" and items[1]["id"] == "rs_1"
    assert items[4] == {"type": "function_call_output", "call_id": "call_A", "output": "a b"}


def test_failure_mid_stream_is_a_typed_error_event(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    events = stream_events([message("partial answer")], USAGE)[:6]
    events.append({"type": "response.failed", "response": {**response([], None, "failed"), "error": {
        "code": "server_error", "message": "The model crashed"}}})
    fake.script(*[EventReply(events=events)] * 4)  # nothing reached the client yet: the proxy may retry
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(**REQUEST) as stream:
            stream.get_final_message()
    assert "The model crashed" in str(caught.value) and caught.value.body["error"]["type"] == "api_error"


def test_upstream_http_errors_keep_their_type(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    fake.script(Reply.error(429, "Rate limit reached", code="rate_limit_exceeded", headers={"retry-after": "60"}))  # too long to wait: not retried
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(**REQUEST)
    fake.script(Reply.error(400, "This model's maximum context length is 8192 tokens, however you requested 9000 tokens",
                            code="context_length_exceeded"))
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        client.messages.create(**REQUEST)


def test_incomplete_non_stream_is_max_tokens(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    fake.script(Reply.json(response([message("cut")], USAGE, "incomplete", "max_output_tokens")))
    assert client.messages.create(**REQUEST).stop_reason == "max_tokens"


def test_config_api_key_and_preset() -> None:
    assert responses_config("http://127.0.0.1:1/v1").providers["oai"].api == "responses"
    assert responses_config("http://127.0.0.1:1/v1", "").providers["oai"].api is None
    with pytest.raises(ConfigError, match="api"):
        responses_config("http://127.0.0.1:1/v1", 'api = "completions"')
    config = parse_config("""
[providers.o]
type = "openai"
preset = "openai-responses"
api_key = "k"
[router]
default = "o,gpt-5.1"
""")
    from ccm_tui.providers import build_provider

    provider = build_provider(config.providers["o"])
    assert provider.api == "responses" and provider.responses_url == "https://api.openai.com/v1/responses"
    plain = build_provider(responses_config("http://127.0.0.1:1/v1").providers["oai"])
    assert plain.preset.name == "openai-responses", "api = responses alone brings OpenAI's Responses quirks"
    assert plain.responses_url == "http://127.0.0.1:1/v1/responses"


def test_anthropic_route_drops_responses_reasoning_after_a_route_switch() -> None:
    from ccm_tui.providers.anthropic import drop_foreign_thinking

    ours = {"type": "redacted_thinking", "data": encode_reasoning({"id": "rs_1", "encrypted_content": "E"})}
    theirs = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"}
    body = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [
        ours, theirs, {"type": "text", "text": "y"}]}]}
    out, dropped = drop_foreign_thinking(body)
    assert dropped == 1 and out["messages"][1]["content"] == [theirs, {"type": "text", "text": "y"}]
