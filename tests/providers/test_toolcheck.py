"""Tool calls checked against the request's schemas: each kind of invalid call, repair, retry, counts.

Unit cases on :class:`ToolCheck`; then real HTTP: the anthropic SDK → the proxy → fake OpenAI and
Gemini servers whose first answer calls a tool wrongly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from ccm_tui.config import parse_config
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Flow
from ccm_tui.providers.toolcheck import InvalidToolCall, ToolCheck, _validator
from ccm_tui.stats import FlowStore
from tests.fakes.gemini_server import FakeGemini, GeminiReply, call_part, chunk, text_part, usage
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.server import run_asgi

SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
          "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"},
                         "background": {"type": "boolean"}, "paths": {"type": "array", "items": {"type": "string"}}},
          "required": ["command"], "additionalProperties": False}
TOOLS = [{"name": "Bash", "description": "run", "input_schema": SCHEMA}]


def checker(retry: bool = True) -> tuple[ToolCheck, list[str]]:
    notes: list[str] = []
    return ToolCheck(TOOLS, retry_allowed=retry, note=notes.append), notes


@pytest.mark.parametrize(("name", "value", "why"), [
    ("Bash", {"command": 42}, "is not of type 'string'"),  # wrong type
    ("Bash", {"timeout": 5}, "'command' is a required property"),  # missing required key
    ("Bash", {"command": "ls", "colour": "red"}, "Additional properties"),  # key the schema forbids
    ("Bassh", {"command": "ls"}, "no such tool"),  # unknown tool name
    ("Bash", {"command": "ls", "timeout": "soon"}, "is not of type 'integer'"),  # not repairable
])
def test_each_kind_of_invalid_call_raises_while_a_retry_is_allowed_else_is_noted(name, value, why) -> None:  # type: ignore[no-untyped-def]
    check, _ = checker()
    with pytest.raises(InvalidToolCall, match=why):
        check.check(name, value)
    assert check.counts == [1, 1]
    passed, notes = checker(retry=False)
    assert passed.check(name, value) == value  # passed on unchanged
    assert any("invalid tool call passed on" in n and why in n for n in notes)


def test_unambiguous_type_errors_are_repaired() -> None:
    check, notes = checker()
    value = {"command": "ls", "timeout": "30", "background": "false", "paths": '["a", "b"]'}
    assert check.check("Bash", value) == {"command": "ls", "timeout": 30, "background": False, "paths": ["a", "b"]}
    assert check.counts == [1, 0] and notes == ["repaired tool input of Bash to match its schema"]
    with pytest.raises(InvalidToolCall):  # a streamed call cannot be changed any more
        check.check("Bash", value, repairable=False)


def test_valid_calls_pass_and_nothing_is_checked_without_declared_tools() -> None:
    check, notes = checker()
    assert check.check("Bash", {"command": "ls", "timeout": 3}) == {"command": "ls", "timeout": 3}
    assert check.counts == [1, 0] and notes == []
    bare = ToolCheck(None, retry_allowed=True)
    assert bare.check("Anything", {"x": 1}) == {"x": 1} and bare.counts == [0, 0]


def test_validators_are_compiled_once_per_schema() -> None:
    _validator.cache_clear()
    for _ in range(5):
        checker()[0].check("Bash", {"command": "ls"})
    info = _validator.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_jsonschema_is_not_imported_at_start_up() -> None:
    code = ("import sys, ccm_tui.cli, ccm_tui.proxy.server, ccm_tui.providers.openai, ccm_tui.providers.gemini; "
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_store_counts_invalid_tool_calls_per_model_for_the_providers_pane() -> None:
    store = FlowStore()
    for calls in ({"oai,m1": [4, 1]}, {"oai,m2": [4, 0], "gem,g": [2, 2]}):
        flow = Flow(method="POST", path="/v1/messages", request_headers={})
        flow.state, flow.tool_calls = "done", calls
        store.ingest([flow])
    assert store.tool_calls == {"oai,m1": [4, 1], "oai,m2": [4, 0], "gem,g": [2, 2]}
    assert store.invalid_tool_rate("oai") == (1, 8) and store.invalid_tool_rate("gem") == (2, 2)


# -- over HTTP --------------------------------------------------------------------------------------
BAD = json.dumps({"command": ["ls"]})
GOOD = json.dumps({"command": "ls"})


def oai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def tool_stream(args: str, text: str = "") -> Reply:
    chunks = [oai_chunk({"role": "assistant", "content": text})]
    chunks += [oai_chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                          "function": {"name": "Bash", "arguments": args[:5]}}]}),
               oai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[5:]}}]}),
               oai_chunk({}, "tool_calls"),
               {"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}]
    return Reply.sse(chunks)


def tool_json(args: str) -> Reply:
    return Reply.json({"id": "c", "object": "chat.completion", "model": "m", "usage": {"prompt_tokens": 9,
                       "completion_tokens": 4}, "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                           "role": "assistant", "content": None, "tool_calls": [
                               {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": args}}]}}]})


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def flows() -> list[Flow]:
    return []


def start(start_proxy, flows: list[Flow], text: str):  # type: ignore[no-untyped-def]
    bus = EventBus()
    bus.subscribe(lambda event, flow: flows.append(flow) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    return start_proxy(parse_config(text), bus)


def one_flow(flows: list[Flow]) -> Flow:
    deadline = time.monotonic() + 5
    while not flows and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flows
    return flows[-1]


def ask(proxy, *, stream: bool) -> anthropic.types.Message:  # type: ignore[no-untyped-def]
    c = anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0, timeout=20)
    kwargs: dict[str, Any] = dict(model="claude-sonnet-4-5", max_tokens=200, tools=TOOLS,
                                  messages=[{"role": "user", "content": "list files"}])
    if not stream:
        return c.messages.create(**kwargs)
    with c.messages.stream(**kwargs) as s:
        return s.get_final_message()


def openai_config(url: str, fallback: bool) -> str:
    return f"""
[providers.oai]
type = "openai"
base_url = "{url}"
models = ["m-main", "m-spare"]

[router]
default = "oai,m-main"
{'fallback = ["oai,m-spare"]' if fallback else ''}
"""


@pytest.mark.parametrize("stream", [False, True])
def test_invalid_call_is_retried_once_on_the_fallback_target(fake, start_proxy, flows, stream) -> None:  # type: ignore[no-untyped-def]
    make = tool_stream if stream else tool_json
    fake.script(make(BAD), make(GOOD))
    proxy = start(start_proxy, flows, openai_config(fake.base_url, fallback=True))
    message = ask(proxy, stream=stream)
    assert message.content[0].input == {"command": "ls"}  # the client saw only the good answer
    assert [b["model"] for b in fake.bodies()] == ["m-main", "m-spare"]
    flow = one_flow(flows)
    assert any("invalid tool call" in n and "retried once on oai,m-spare" in n for n in flow.notes)
    assert flow.tool_calls == {"oai,m-main": [1, 1], "oai,m-spare": [1, 0]}


def test_without_a_fallback_the_same_target_is_retried_once_then_the_call_passes_with_a_note(
        fake, start_proxy, flows) -> None:  # type: ignore[no-untyped-def]
    fake.script(tool_json(BAD), tool_json(BAD))
    proxy = start(start_proxy, flows, openai_config(fake.base_url, fallback=False))
    message = ask(proxy, stream=False)
    assert message.content[0].input == {"command": ["ls"]}  # passed on: Claude Code reports it to the model
    assert [b["model"] for b in fake.bodies()] == ["m-main", "m-main"]
    flow = one_flow(flows)
    assert any("retried once on oai,m-main" in n for n in flow.notes)
    assert any("invalid tool call passed on" in n for n in flow.notes)
    assert flow.tool_calls == {"oai,m-main": [2, 2]}


def test_after_text_reached_the_client_an_invalid_call_is_only_noted(fake, start_proxy, flows) -> None:  # type: ignore[no-untyped-def]
    fake.script(tool_stream(BAD, text="Let me look."), tool_stream(GOOD))
    proxy = start(start_proxy, flows, openai_config(fake.base_url, fallback=True))
    message = ask(proxy, stream=True)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"command": ["ls"]}
    assert len(fake.bodies()) == 1
    assert any("invalid tool call passed on" in n for n in one_flow(flows).notes)


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_invalid_call_is_retried(start_proxy, flows, stream) -> None:  # type: ignore[no-untyped-def]
    gemini = FakeGemini()
    gemini.script = [GeminiReply(chunks=[chunk([call_part("Bash", {"command": 1})], "STOP", usage())]),
                     GeminiReply(chunks=[chunk([text_part("ok "), call_part("Bash", {"command": "ls"})],
                                               "STOP", usage())])]
    with run_asgi(gemini.app) as url:
        proxy = start(start_proxy, flows, f"""
[providers.gem]
type = "gemini"
base_url = "{url}"
models = ["gemini-2.5-pro"]

[router]
default = "gem,gemini-2.5-pro"
""")
        message = ask(proxy, stream=stream)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"command": "ls"}
    assert len(gemini.requests) == 2
    assert one_flow(flows).tool_calls == {"gem,gemini-2.5-pro": [2, 1]}


def test_a_slow_start_is_held_at_most_hold_s_then_goes_out_and_is_only_noted(
        fake, start_proxy, flows, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("ccm_tui.providers.base.HOLD_S", 0.2)
    slow = tool_stream(BAD)
    slow.piece, slow.delay = 60, 0.15  # the call completes well after the hold ended
    fake.script(slow, tool_stream(GOOD))
    proxy = start(start_proxy, flows, openai_config(fake.base_url, fallback=True))
    message = ask(proxy, stream=True)
    assert message.content[0].input == {"command": ["ls"]}
    assert len(fake.bodies()) == 1
    assert any("invalid tool call passed on" in n for n in one_flow(flows).notes)


@pytest.mark.parametrize("stream", [False, True])
def test_responses_api_invalid_call_is_retried(start_proxy, flows, stream) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.responses_server import EventReply, function_call, response, stream_events, usage

    def reply(args: str) -> Any:
        output = [function_call("Bash", args, "call_A")]
        if stream:
            return EventReply(events=stream_events(output, usage(20, 5)))
        return Reply.json(response(output, usage(20, 5)))

    with FakeOpenAI() as fake:
        fake.script(reply(BAD), reply(GOOD))
        proxy = start(start_proxy, flows, f"""
[providers.oai]
type = "openai"
api = "responses"
base_url = "{fake.base_url}"
models = ["gpt-5.1"]

[router]
default = "oai,gpt-5.1"
""")
        message = ask(proxy, stream=stream)
        assert len(fake.bodies()) == 2
    assert message.content[-1].input == {"command": "ls"}
    assert one_flow(flows).tool_calls == {"oai,gpt-5.1": [2, 1]}


def test_the_second_of_two_parallel_calls_is_protected_too(fake, start_proxy, flows) -> None:  # type: ignore[no-untyped-def]
    def two_calls(second: str) -> Reply:
        calls = [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": GOOD}},
                 {"index": 1, "id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": second}}]
        return Reply.sse([oai_chunk({"role": "assistant", "content": ""}), oai_chunk({"tool_calls": calls[:1]}),
                          oai_chunk({"tool_calls": calls[1:]}), oai_chunk({}, "tool_calls"),
                          {"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}])

    fake.script(two_calls(BAD), two_calls(GOOD))
    proxy = start(start_proxy, flows, openai_config(fake.base_url, fallback=True))
    message = ask(proxy, stream=True)
    assert [b.input for b in message.content] == [{"command": "ls"}, {"command": "ls"}]
    assert len(fake.bodies()) == 2
