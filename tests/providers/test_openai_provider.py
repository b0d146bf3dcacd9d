"""The OpenAI provider over real HTTP: the official anthropic SDK → the real proxy → OpenAIProvider
→ a fake OpenAI server on 127.0.0.1, and back. The SDK's stream parser judges the SSE."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from ccm_tui.config import parse_config
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Flow
from tests.fakes.openai_server import FakeOpenAI, Reply

KEY = "sk-openai-canary-5e1d"
TOOLS = [{"name": "Bash", "description": "run a command", "input_schema": {
    "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
    "properties": {"command": {"type": "string"}}, "required": ["command"]}}]


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "gpt-test", "system_fingerprint": "fp",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish, "logprobs": None}], **extra}


USAGE = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "choices": [],
         "usage": {"prompt_tokens": 120, "completion_tokens": 17, "prompt_tokens_details": {"cached_tokens": 100}}}

# One answer, as a stream and as a JSON completion: reasoning, text, two tool calls.
ARGS_0, ARGS_1 = json.dumps({"command": "ls -la ~/café"}), json.dumps({"command": "echo \"hi\""})
ANSWER_CHUNKS = [
    chunk({"role": "assistant", "content": "", "reasoning_content": ""}),
    chunk({"reasoning_content": "I should "}), chunk({"reasoning_content": "look."}),
    chunk({"content": "Let me "}), chunk({"content": "check. ✓"}),
    chunk({"tool_calls": [{"index": 0, "id": "call_A", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ARGS_0[:13]}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_B", "type": "function",
                           "function": {"name": "Bash", "arguments": ARGS_1[:5]}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ARGS_0[13:]}}]}),
    chunk({"tool_calls": [{"index": 1, "function": {"arguments": ARGS_1[5:]}}]}),
    chunk(finish="tool_calls"),
    USAGE,
]
ANSWER_JSON = {
    "id": "chatcmpl-9", "object": "chat.completion", "model": "gpt-test",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Let me check. ✓", "reasoning_content": "I should look.",
        "tool_calls": [{"id": "call_A", "type": "function", "function": {"name": "Bash", "arguments": ARGS_0}},
                       {"id": "call_B", "type": "function", "function": {"name": "Bash", "arguments": ARGS_1}}]}}],
    "usage": USAGE["usage"],
}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def openai_config(base_url: str, extra: str = "") -> Any:
    return parse_config(f"""
[providers.oai]
type = "openai"
preset = "deepseek"
base_url = "{base_url}"
api_key = "$OAI_KEY"
models = ["gpt-test"]
{extra}

[router]
default = "oai,gpt-test"
""", env={"OAI_KEY": KEY})


@pytest.fixture
def flows() -> list[Flow]:
    return []


@pytest.fixture
def proxy(fake: FakeOpenAI, start_proxy, flows: list[Flow]):  # type: ignore[no-untyped-def]
    bus = EventBus()
    bus.subscribe(lambda event, flow: flows.append(flow) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    return start_proxy(openai_config(fake.base_url), bus)


def wait_for(flows: list[Flow], count: int) -> list[Flow]:
    """A stream's flow is recorded just after its last byte is sent: wait for it (bounded)."""
    deadline = time.monotonic() + 5
    while len(flows) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(flows) >= count, flows
    return flows


def client(proxy) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0, timeout=20)


REQUEST = dict(model="claude-opus-4-8", max_tokens=1000, tools=TOOLS,
               messages=[{"role": "user", "content": [{"type": "text", "text": "list files",
                                                       "cache_control": {"type": "ephemeral"}}]}])


def test_stream_and_non_stream_agree_through_the_sdk(proxy, fake: FakeOpenAI, flows) -> None:
    fake.script(Reply.sse(ANSWER_CHUNKS), Reply.json(ANSWER_JSON))
    c = client(proxy)
    with c.messages.stream(**REQUEST) as stream:
        texts = list(stream.text_stream)
        streamed = stream.get_final_message()
    plain = c.messages.create(**REQUEST)
    assert "".join(texts) == "Let me check. ✓"
    assert streamed.model_dump(exclude={"id"}) == plain.model_dump(exclude={"id"})
    assert streamed.model == "claude-opus-4-8", "responses carry the model the client asked for"
    assert [b.type for b in streamed.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert [(b.id, b.input) for b in streamed.content[2:]] == [("call_A", json.loads(ARGS_0)),
                                                              ("call_B", json.loads(ARGS_1))]
    assert streamed.stop_reason == "tool_use"
    assert (streamed.usage.input_tokens, streamed.usage.output_tokens, streamed.usage.cache_read_input_tokens) == (20, 17, 100)
    sent = fake.requests[0]
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-test" and sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["tools"][0]["function"]["parameters"] == {
        "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
    assert "stream" not in fake.requests[1].body
    assert "cache_control" not in json.dumps(sent.body)
    assert sorted(f.usage.output_tokens for f in wait_for(flows, 2)) == [17, 17]
    assert all(f.status == 200 for f in flows)


def test_tool_loop_second_turn_reaches_upstream_as_tool_messages(proxy, fake: FakeOpenAI) -> None:
    fake.script(Reply.sse([chunk({"content": "Done: 2 files."}), chunk(finish="stop"), USAGE]))
    messages = [*REQUEST["messages"],
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should look.", "signature": "ccm:openai"},
                    {"type": "tool_use", "id": "call_A", "name": "Bash", "input": {"command": "ls"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_A", "content": "a\nb"}]}]
    with client(proxy).messages.stream(**{**REQUEST, "messages": messages}) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "Done: 2 files." and final.stop_reason == "end_turn"
    sent = fake.requests[0].body["messages"]
    assert sent[1] == {"role": "assistant", "content": None, "reasoning_content": "I should look.",
                       "tool_calls": [{"id": "call_A", "type": "function",
                                       "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_A", "content": "a\nb"}


@pytest.mark.parametrize("piece", [1, 3, [1, 7, 2, 64]])
def test_byte_split_crlf_comments_and_unknown_fields(proxy, fake: FakeOpenAI, piece) -> None:
    chunks = [": OPENROUTER PROCESSING", *[{**c, "obfuscation": "xyz"} for c in ANSWER_CHUNKS]]
    fake.script(Reply.sse(chunks, crlf=True, piece=piece))
    with client(proxy).messages.stream(**REQUEST) as stream:
        final = stream.get_final_message()
    assert final.content[1].text == "Let me check. ✓"
    assert final.content[3].input == json.loads(ARGS_1)


def test_upstream_that_ignores_stream_true_is_replayed_as_a_stream(proxy, fake: FakeOpenAI, flows) -> None:
    fake.script(Reply.json(ANSWER_JSON))
    with client(proxy).messages.stream(**REQUEST) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert any("ignored stream" in n for n in wait_for(flows, 1)[0].notes)


@pytest.mark.parametrize("reply,exc,status,type_,text", [
    (Reply.error(429, "Rate limit reached", code="rate_limit_exceeded", headers={"retry-after": "13"}),
     anthropic.RateLimitError, 429, "rate_limit_error", "Rate limit reached"),
    (Reply.error(401, "Incorrect API key provided: sk-op****", code="invalid_api_key"),
     anthropic.AuthenticationError, 401, "authentication_error", "Incorrect API key"),
    (Reply.error(400, "This model's maximum context length is 8192 tokens. However, your messages resulted in "
                      "9000 tokens.", code="context_length_exceeded"),
     anthropic.BadRequestError, 400, "invalid_request_error", "prompt is too long: 9000 tokens > 8192 maximum"),
    (Reply.error(404, "The model `gpt-test` does not exist", code="model_not_found"),
     anthropic.NotFoundError, 404, "not_found_error", "does not exist"),
    (Reply.error(413, "too large"), anthropic.APIStatusError, 413, "request_too_large", "too large"),
    (Reply.error(422, "unprocessable"), anthropic.BadRequestError, 400, "invalid_request_error", "unprocessable"),
    (Reply.error(503, "overloaded", type="server_error"), anthropic.InternalServerError, 529, "overloaded_error", ""),
    (Reply.error(500, "boom", type="server_error"), anthropic.InternalServerError, 500, "api_error", "boom"),
])
def test_upstream_errors_before_the_stream(proxy, fake: FakeOpenAI, reply, exc, status, type_, text) -> None:
    fake.script(reply, reply, reply, reply)  # the proxy may retry retryable errors
    with pytest.raises(exc) as info:
        with client(proxy).messages.stream(**REQUEST) as stream:
            stream.get_final_message()
    assert info.value.status_code == status
    assert info.value.body["error"]["type"] == type_ and text in info.value.body["error"]["message"]
    if status == 429:
        assert info.value.response.headers["retry-after"] == "13"


def stream_error(proxy) -> anthropic.APIStatusError:  # type: ignore[no-untyped-def]
    with pytest.raises(anthropic.APIStatusError) as info:
        with client(proxy).messages.stream(**REQUEST) as stream:
            for _ in stream:
                pass
    return info.value


def test_error_chunk_inside_a_200_stream(proxy, fake: FakeOpenAI) -> None:
    err = {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": ""},
                                                                    "finish_reason": "error"}],
           "error": {"code": 429, "message": "Provider rate limited mid-stream"}}
    reply = Reply.sse([chunk({"content": "partial"}), err], done=False)
    fake.script(reply, reply, reply, reply)  # nothing reached the client yet: the proxy may retry
    error = stream_error(proxy)
    assert error.body["error"]["type"] == "rate_limit_error", error.body
    assert "mid-stream" in error.body["error"]["message"]


def test_connection_cut_mid_stream_is_an_error_event(proxy, fake: FakeOpenAI, flows) -> None:
    fake.script(Reply.sse([chunk({"content": "partial answer"}), *[chunk({"content": "x"})] * 5], cut=True,
                          done=False, piece=40))
    error = stream_error(proxy)
    assert error.body["error"]["type"] == "api_error"
    assert wait_for(flows, 1)[-1].state == "failed"


def test_stream_ending_without_finish_reason_is_an_error_event(proxy, fake: FakeOpenAI) -> None:
    fake.script(Reply.sse([chunk({"content": "half"})], done=True))
    error = stream_error(proxy)
    assert error.body["error"]["type"] == "api_error" and "finish_reason" in error.body["error"]["message"]


def test_unrepairable_arguments_non_stream_is_a_typed_error(proxy, fake: FakeOpenAI) -> None:
    bad = json.loads(json.dumps(ANSWER_JSON))
    bad["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "{{{ not json"
    fake.script(*[Reply.json(bad)] * 4)  # retryable: a fresh sample may be valid
    with pytest.raises(anthropic.APIStatusError) as info:
        client(proxy).messages.create(**REQUEST)
    assert info.value.status_code == 502 and "not valid JSON" in info.value.body["error"]["message"]


def test_notes_and_clamp_recorded_on_the_flow(fake: FakeOpenAI, start_proxy, flows) -> None:
    bus = EventBus()
    bus.subscribe(lambda event, flow: flows.append(flow) if event == FlowEvent.FINISHED else None)
    proxy = start_proxy(openai_config(fake.base_url, "max_tokens_cap = 4096\noptions = { echo_reasoning = false }"), bus)
    fake.script(Reply.json(ANSWER_JSON))
    messages = [{"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                                  {"type": "text", "text": "a"}]},
                {"role": "user", "content": "q2"}]
    client(proxy).messages.create(**{**REQUEST, "max_tokens": 64000, "messages": messages})
    assert fake.requests[0].body["max_tokens"] == 4096
    assert "reasoning_content" not in json.dumps(fake.requests[0].body)
    notes = flows[0].notes
    assert "max_tokens 64000 clamped to 4096 (model output limit)" in notes and "dropped 1 thinking block" in notes


async def test_concurrent_streams_share_no_state(fake: FakeOpenAI, start_proxy) -> None:
    def echo(request) -> Reply:  # type: ignore[no-untyped-def]
        word = request.body["messages"][-1]["content"]
        return Reply.sse([chunk({"content": word[:3]}), chunk({"tool_calls": [
            {"index": 0, "id": f"call_{word}", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps({"command": word})}}]}),
            chunk(finish="tool_calls"), USAGE], piece=[7, 11], delay=0.002)

    fake.responder = echo
    proxy = start_proxy(openai_config(fake.base_url))
    c = anthropic.AsyncAnthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0, timeout=20)

    async def one(word: str) -> Any:
        async with c.messages.stream(**{**REQUEST, "messages": [{"role": "user", "content": word}]}) as stream:
            return await stream.get_final_message()

    words = [f"word{i:02d}" for i in range(8)]
    results = await asyncio.wait_for(asyncio.gather(*(one(w) for w in words)), 30)
    for word, message in zip(words, results, strict=True):
        assert [b.type for b in message.content] == ["text", "tool_use"]
        assert message.content[0].text == word[:3]
        assert (message.content[1].id, message.content[1].input) == (f"call_{word}", {"command": word})
    await c.close()


def test_count_tokens_answers_locally(proxy, fake: FakeOpenAI) -> None:
    small = client(proxy).messages.count_tokens(model="claude-opus-4-8", messages=[{"role": "user", "content": "hi"}])
    large = client(proxy).messages.count_tokens(model="claude-opus-4-8", tools=TOOLS,
                                                messages=[{"role": "user", "content": "hi " * 500}])
    assert 0 < small.input_tokens < large.input_tokens
    assert fake.requests == [], "counted offline, nothing sent upstream"


def test_refusal_reaches_claude_code_as_text_ending_the_turn_and_is_noted(proxy, fake: FakeOpenAI, flows) -> None:
    refusal = "I'm sorry, I can't help with that."
    fake.script(Reply.sse([chunk({"role": "assistant", "content": None, "refusal": ""}),
                           chunk({"refusal": refusal[:9]}), chunk({"refusal": refusal[9:]}), chunk(finish="stop"),
                           USAGE]),
                Reply.json({**ANSWER_JSON, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": None, "refusal": refusal}}]}))
    c = client(proxy)
    with c.messages.stream(**REQUEST) as stream:
        streamed = stream.get_final_message()
    plain = c.messages.create(**REQUEST)
    for message in (streamed, plain):
        assert [(b.type, b.text) for b in message.content] == [("text", refusal)]
        assert message.stop_reason == "end_turn"
    assert all(any("refused" in note for note in f.notes) for f in wait_for(flows, 2))
