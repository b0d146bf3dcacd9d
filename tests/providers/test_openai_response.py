"""Chat Completions answer → Anthropic message; usage, stop reasons, argument repair, error bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccm_tui.errors import (
    AuthenticationFailed,
    BillingError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PermissionDenied,
    ProxyError,
    RateLimited,
    RequestTooLarge,
)
from ccm_tui.providers.openai.presets import THINKING_SIGNATURE
from ccm_tui.providers.openai.response import (
    InvalidToolArguments,
    error_from_openai,
    map_usage,
    parse_arguments,
    refusal_of,
    repair_json,
    translate_response,
)


def completion(message: dict[str, Any], finish: str | None = "stop", usage: dict | None = None,
               **choice: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "upstream-model",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish, **choice}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 3}}


def call(name: str, args: str, cid: str | None = "call_1") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def test_text_answer_shape() -> None:
    msg = translate_response(completion({"content": "Hello"}), model="claude-opus-4-8")
    assert msg["id"].startswith("msg_") and msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["model"] == "claude-opus-4-8", "the model the client asked for"
    assert msg["content"] == [{"type": "text", "text": "Hello"}]
    assert msg["stop_reason"] == "end_turn" and msg["stop_sequence"] is None
    assert msg["usage"] == {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 0,
                            "cache_creation_input_tokens": 0}


def test_order_thinking_text_tools_ids_kept_and_names_restored() -> None:
    data = completion({"reasoning_content": "let me think", "content": "Running.",
                       "tool_calls": [call("short_abc", '{"a": 1}', "call_X.1"), call("Read", "", None)]},
                      finish="tool_calls")
    msg = translate_response(data, model="m", names={"short_abc": "mcp__long.name"})
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert msg["content"][0] == {"type": "thinking", "thinking": "let me think", "signature": THINKING_SIGNATURE}
    first, second = msg["content"][2], msg["content"][3]
    assert first == {"type": "tool_use", "id": "call_X_1", "name": "mcp__long.name", "input": {"a": 1}}
    assert second["id"].startswith("toolu_") and second["input"] == {}
    assert msg["stop_reason"] == "tool_use"


def test_openrouter_reasoning_field_and_content_parts() -> None:
    msg = translate_response(completion({"reasoning": "r", "content": [{"type": "text", "text": "a"},
                                                                       {"type": "text", "text": "b"}]}), model="m")
    assert msg["content"] == [{"type": "thinking", "thinking": "r", "signature": THINKING_SIGNATURE},
                              {"type": "text", "text": "ab"}]


@pytest.mark.parametrize("finish,tools,expected", [
    ("stop", False, "end_turn"), ("length", False, "max_tokens"), ("tool_calls", True, "tool_use"),
    ("function_call", True, "tool_use"), ("stop", True, "tool_use"), ("content_filter", False, "refusal"),
    (None, False, "end_turn"), ("weird", False, "end_turn"), ("length", True, "max_tokens"),
])
def test_finish_reason_table(finish: str | None, tools: bool, expected: str) -> None:
    message: dict[str, Any] = {"content": "x"}
    if tools:
        message["tool_calls"] = [call("Bash", "{}")]
    assert translate_response(completion(message, finish), model="m")["stop_reason"] == expected


def test_legacy_function_call_and_refusal() -> None:
    msg = translate_response(completion({"content": None, "function_call": {"name": "Bash", "arguments": '{"c":1}'}},
                                        "function_call"), model="m")
    assert msg["content"][0]["name"] == "Bash" and msg["content"][0]["input"] == {"c": 1}
    assert msg["stop_reason"] == "tool_use"


def test_model_refusal_is_text_that_ends_the_turn_not_a_policy_stop() -> None:
    """OpenAI ``refusal`` + finish_reason stop: stop_reason refusal made Claude Code show Anthropic's
    usage-policy notice; the text is kept and the turn ends normally."""
    data = completion({"content": None, "refusal": "I can't help with that."})
    refused = translate_response(data, model="m")
    assert refused["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert refused["stop_reason"] == "end_turn"
    assert refusal_of(data) == "I can't help with that." and refusal_of(completion({"content": "ok"})) == ""


def test_stop_sequence_reported_when_the_server_names_it() -> None:
    data = completion({"content": "abc"}, stop_reason="END")
    msg = translate_response(data, model="m", stop_sequences=["END"])
    assert msg["stop_reason"] == "stop_sequence" and msg["stop_sequence"] == "END"
    assert translate_response(completion({"content": "abc"}), model="m", stop_sequences=["END"])["stop_reason"] == "end_turn"


def test_empty_answer_is_a_valid_message() -> None:
    msg = translate_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
                                           "finish_reason": "stop"}]}, model="m")
    assert msg["content"] == [] and msg["usage"]["output_tokens"] == 0


@pytest.mark.parametrize("usage,expected", [
    ({"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 60}},
     (40, 20, 60, 0)),
    ({"prompt_tokens": 100, "completion_tokens": 20, "prompt_cache_hit_tokens": 70, "prompt_cache_miss_tokens": 30},
     (30, 20, 70, 0)),
    ({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 30}},
     (20, 5, 50, 30)),
    ({"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 60}}, (0, 1, 60, 0)),
    ({"prompt_tokens": None, "completion_tokens": None}, (0, 0, 0, 0)),
    (None, (0, 0, 0, 0)),
])
def test_usage_mapping(usage: dict | None, expected: tuple) -> None:
    got = map_usage(usage)
    assert (got["input_tokens"], got["output_tokens"], got["cache_read_input_tokens"],
            got["cache_creation_input_tokens"]) == expected


@pytest.mark.parametrize("raw,expected", [
    ('{"a": 1}', {"a": 1}),
    ("", {}), ("  ", {}), ("null", {}), ("{}", {}),
    ("{'command': 'ls -la', 'n': 2}", {"command": "ls -la", "n": 2}),
    ('{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}),
    ('{"a": {"b": [1, 2', {"a": {"b": [1, 2]}}),
    ('{"a": "x"', {"a": "x"}),
    ("{'say': \"it's\"}", {"say": "it's"}),
    ("{'q': 'a \"quoted\" word'}", {"q": 'a "quoted" word'}),
])
def test_argument_repair(raw: str, expected: dict) -> None:
    assert parse_arguments(raw)[0] == expected


@pytest.mark.parametrize("raw", ['{"command": "rm -rf /tmp/x', '{"a": ', "[1, 2]", '"text"', "not json at all", '{"a": tru'])
def test_unrepairable_arguments_are_a_typed_error(raw: str) -> None:
    with pytest.raises(InvalidToolArguments) as info:
        parse_arguments(raw, "Bash")
    assert info.value.status == 502 and info.value.error_type == "api_error"
    assert repair_json(raw) is None or not isinstance(json.loads(repair_json(raw)), dict)


def test_invalid_arguments_in_a_response_never_crash() -> None:
    data = completion({"tool_calls": [call("Bash", "{'command': 'ls',}")]}, "tool_calls")
    assert translate_response(data, model="m")["content"][0]["input"] == {"command": "ls"}
    with pytest.raises(InvalidToolArguments, match="Bash"):
        translate_response(completion({"tool_calls": [call("Bash", "garbage")]}, "tool_calls"), model="m")


def err(message: str, code: Any = None, type_: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.parametrize("status,raw,cls,status_out", [
    (400, err("bad param"), InvalidRequest, 400),
    (401, err("Incorrect API key provided", "invalid_api_key"), AuthenticationFailed, 401),
    (403, err("forbidden"), PermissionDenied, 403),
    (404, err("The model `x` does not exist", "model_not_found"), NotFound, 404),
    (413, b"request entity too large", RequestTooLarge, 413),
    (422, json.dumps({"detail": [{"msg": "field required"}]}).encode(), InvalidRequest, 400),
    (429, err("Rate limit reached", "rate_limit_exceeded"), RateLimited, 429),
    (429, err("You exceeded your current quota", "insufficient_quota"), BillingError, 402),
    (402, json.dumps({"error": {"message": "Insufficient credits", "code": 402}}).encode(), BillingError, 402),
    (500, err("boom", type_="server_error"), ProxyError, 500),
    (502, b"<html>bad gateway</html>", ProxyError, 500),
    (503, err("overloaded"), Overloaded, 529),
    (404, json.dumps({"error": "model 'llama9' not found"}).encode(), NotFound, 404),
])
def test_error_bodies(status: int, raw: bytes, cls: type, status_out: int) -> None:
    error = error_from_openai(status, raw, {"retry-after": "7", "x-other": "1"}, "up")
    assert type(error) is cls and error.status == status_out
    assert error.message.startswith("up: ")
    if cls is RateLimited:
        assert error.headers == {"retry-after": "7"}
    assert "<html>" not in error.message


@pytest.mark.parametrize("raw,numbers", [
    (err("This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 "
         "tokens. Please reduce the length of the messages.", "context_length_exceeded"), ("130532", "128000")),
    (err("This model's maximum context length is 32768 tokens. However, you requested 40000 tokens "
         "(35000 in the messages, 5000 in the completion)."), ("40000", "32768")),
    (err("Input is too long for requested model."), None),
])
def test_context_length_errors_say_prompt_is_too_long(raw: bytes, numbers: tuple | None) -> None:
    error = error_from_openai(400, raw, {}, "up")
    assert isinstance(error, InvalidRequest) and error.status == 400
    assert error.message.startswith("prompt is too long")
    if numbers:
        assert error.message.startswith(f"prompt is too long: {numbers[0]} tokens > {numbers[1]} maximum")


def test_mistral_thinking_content_parts_become_a_thinking_block() -> None:
    """magistral: reasoning as ``{"type": "thinking", "thinking": [{"type": "text", ...}]}`` parts (was dropped)."""
    message = {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Two plus "},
                                                              {"type": "text", "text": "two is four."}]},
                           {"type": "text", "text": "4"}]}
    msg = translate_response(completion(message), model="m")
    assert msg["content"] == [{"type": "thinking", "thinking": "Two plus two is four.", "signature": THINKING_SIGNATURE},
                              {"type": "text", "text": "4"}]


def test_xai_reasoning_tokens_outside_completion_tokens_count_as_output() -> None:
    """xAI: total = prompt + completion + reasoning; output was 1 instead of 291."""
    xai = {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 303,
           "completion_tokens_details": {"reasoning_tokens": 290}}
    assert map_usage(xai)["output_tokens"] == 291
    openai = {"prompt_tokens": 12, "completion_tokens": 291, "total_tokens": 303,
              "completion_tokens_details": {"reasoning_tokens": 290}}  # reasoning already inside
    assert map_usage(openai)["output_tokens"] == 291
