"""Anthropic request → OpenAI Responses request (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccm_tui.errors import InvalidRequest
from ccm_tui.providers.openai.caching import session_key
from ccm_tui.providers.openai.presets import get_preset
from ccm_tui.providers.openai.responses_request import (
    strict_ok,
    translate_responses_request,
)
from ccm_tui.providers.openai.responses_response import encode_reasoning

PRESET = get_preset("openai-responses")
BASH = {"name": "Bash", "description": "run", "input_schema": {
    "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
    "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}}, "required": ["command"]}}
SIGNATURE = encode_reasoning({"id": "rs_9", "encrypted_content": "ENC-9", "summary": []})


def translate(body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    notes: list[str] = []
    out = translate_responses_request({"model": "gpt-5.1", "max_tokens": 64000, **body}, PRESET, note=notes.append, **kw)
    out.payload["_notes"] = notes
    return out.payload


def test_system_tools_and_limits() -> None:
    p = translate({
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
                   {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}], "tools": [BASH], "tool_choice": {"type": "any"},
        "temperature": 1, "stop_sequences": ["END"], "stream": True,
    }, max_output_tokens=32000)
    assert p["instructions"] == "You are Claude Code."
    assert p["input"] == [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
    assert p["tools"] == [{"type": "function", "name": "Bash", "description": "run", "strict": False, "parameters": {
        "type": "object", "additionalProperties": False, "properties": BASH["input_schema"]["properties"],
        "required": ["command"]}}]
    assert p["tool_choice"] == "required" and p["max_output_tokens"] == 32000
    assert "temperature" not in p and "stop" not in p and p["stream"] is True
    assert p["store"] is False and p["include"] == ["reasoning.encrypted_content"]
    assert any("max_tokens clamped" in n for n in p["_notes"]) and any("stop_sequences" in n for n in p["_notes"])
    assert "cache_control" not in json.dumps(p)


def test_strict_only_when_the_schema_allows_it() -> None:
    closed = {"type": "object", "additionalProperties": False, "required": ["a"],
              "properties": {"a": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                               "properties": {}, "required": []}}}}
    assert strict_ok(closed)
    assert not strict_ok({**closed, "required": []})
    assert not strict_ok({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}}}},
                          "required": ["a"], "additionalProperties": False})
    p = translate({"messages": [{"role": "user", "content": "x"}],
                   "tools": [{"name": "T", "input_schema": closed}], "tool_choice": {"type": "tool", "name": "T"}})
    assert p["tools"][0]["strict"] is True and p["tool_choice"] == {"type": "function", "name": "T"}


@pytest.mark.parametrize("thinking,output_config,effort", [
    ({"type": "adaptive"}, {"effort": "high"}, "high"),
    ({"type": "adaptive"}, {"effort": "max"}, "high"),
    ({"type": "enabled", "budget_tokens": 2000}, None, "low"),
])
def test_thinking_becomes_reasoning_effort_with_summaries(thinking: dict, output_config: dict | None, effort: str) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "thinking": thinking}
    if output_config:
        body["output_config"] = output_config
    assert translate(body)["reasoning"] == {"effort": effort, "summary": "auto"}
    assert "reasoning" not in translate({"messages": [{"role": "user", "content": "x"}],
                                         "thinking": {"type": "disabled"}})


def test_tool_loop_history_with_reasoning_items_in_place() -> None:
    p = translate({"messages": [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I will list.", "signature": SIGNATURE},
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}},
            {"type": "tool_use", "id": "call_2", "name": "Bash", "input": {"command": "pwd"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "/w"}]},
            {"type": "tool_result", "tool_use_id": "call_1", "content": "a\nb", "is_error": True},
            {"type": "text", "text": "go on"}]},
    ]})
    assert p["input"][1:] == [
        {"type": "reasoning", "id": "rs_9", "summary": [{"type": "summary_text", "text": "I will list."}],
         "encrypted_content": "ENC-9"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Listing."}]},
        {"type": "function_call", "call_id": "call_1", "name": "Bash", "arguments": '{"command": "ls"}'},
        {"type": "function_call", "call_id": "call_2", "name": "Bash", "arguments": '{"command": "pwd"}'},
        {"type": "function_call_output", "call_id": "call_2", "output": "/w"},
        {"type": "function_call_output", "call_id": "call_1", "output": "Error: a\nb"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]},
    ]


def test_redacted_reasoning_replays_and_foreign_thinking_is_dropped() -> None:
    p = translate({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": SIGNATURE},
                                          {"type": "thinking", "thinking": "anthropic's", "signature": "EqQBCkYIBxgC"},
                                          {"type": "text", "text": "y"}]},
        {"role": "user", "content": "z"}]})
    assert p["input"][1] == {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "ENC-9"}
    assert p["input"][2]["role"] == "assistant" and len(p["input"]) == 4
    assert any("dropped 1 thinking" in n for n in p["_notes"])


def test_images_documents_and_image_tool_results() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}
    p = translate({"messages": [
        {"role": "user", "content": [image, pdf, {"type": "text", "text": "see"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": [
            {"type": "text", "text": "shot:"}, image]}]}]})
    assert p["input"][0]["content"] == [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
        {"type": "input_file", "filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBER"},
        {"type": "input_text", "text": "see"}]
    assert p["input"][2]["output"] == [{"type": "input_text", "text": "shot:"},
                                       {"type": "input_image", "image_url": "data:image/png;base64,iVBOR",
                                        "detail": "auto"}]


def test_orphan_tool_result_is_a_400_and_unanswered_calls_get_a_placeholder() -> None:
    with pytest.raises(InvalidRequest, match="no matching tool_use"):
        translate({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope"}]}]})
    p = translate({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": "never mind"}]})
    assert p["input"][2] == {"type": "function_call_output", "call_id": "c1", "output": "(no result: the call was interrupted)"}


def test_user_id_session_cache_key_and_mid_conversation_system() -> None:
    user = "user_" + "a" * 64 + "_account__session_2b7e5c1e-1111-2222-3333-444455556666"
    body = {"metadata": {"user_id": user}, "messages": [
        {"role": "user", "content": "x"}, {"role": "system", "content": "Now be brief."}]}
    p = translate(body, session=session_key(body, None))
    assert len(p["safety_identifier"]) <= 64 and p["safety_identifier"] == translate(body)["safety_identifier"]
    assert p["prompt_cache_key"] == "ccm-2b7e5c1e-1111-2222-3333-444455556666"
    assert session_key(body, "sess-1") == "ccm-sess-1"
    assert session_key({"metadata": {"user_id": json.dumps({"session_id": "abc"})}}, None) == "ccm-abc"
    assert session_key({}, None) is None
    assert p["input"][1] == {"type": "message", "role": "developer",
                             "content": [{"type": "input_text", "text": "Now be brief."}]}


def test_web_search_sub_request_uses_the_builtin_tool() -> None:
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8, "allowed_domains": ["ex.org"],
            "user_location": {"type": "approximate", "country": "FR", "city": "Paris"}}
    out = translate_responses_request({
        "model": "gpt-5.1", "max_tokens": 100, "tools": [tool], "tool_choice": {"type": "tool", "name": "web_search"},
        "messages": [{"role": "user", "content": "Perform a web search for the query: capital of france"}]}, PRESET)
    assert out.search_query == "capital of france"
    assert out.payload["tools"] == [{"type": "web_search", "filters": {"allowed_domains": ["ex.org"]},
                                     "user_location": {"type": "approximate", "country": "FR", "city": "Paris"}}]
    assert "tool_choice" not in out.payload
