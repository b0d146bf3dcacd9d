"""Anthropic request → Chat Completions request: tables of input / expected output, and real
Claude Code requests (fixtures) checked against what OpenAI-compatible servers accept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.errors import InvalidRequest
from ccm_tui.providers.openai.presets import get_preset
from ccm_tui.providers.openai.request import Limits, stable_user, translate_request, upstream_tool_name

FIXTURES = Path(__file__).parents[1] / "fixtures" / "claude-code"
LONG_NAME = "mcp__some_server_with_a_long_name__" + "x" * 40
PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def tr(body: dict[str, Any], preset: str | None = None, limits: Limits | None = None, **options: Any):
    notes: list[str] = []
    base = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    out = translate_request({**base, **body}, get_preset(preset, options), limits=limits, note=notes.append)
    return out.payload, notes, out


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def tool_use(tid: str, name: str = "Bash", inp: dict | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": tid, "name": name, "input": inp or {}}


def text(t: str, **kw: Any) -> dict[str, Any]:
    return {"type": "text", "text": t, **kw}


# -- messages: (case, anthropic body fragment, expected OpenAI messages) ------------------------------
MESSAGE_CASES = [
    ("system string", {"system": "be brief"},
     [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]),
    ("system blocks, cache_control and billing header dropped",
     {"system": [text("x-anthropic-billing-header: cc_version=1;"), text("A", cache_control={"type": "ephemeral"}),
                 text("B")]},
     [{"role": "system", "content": "A\n\nB"}, {"role": "user", "content": "hi"}]),
    ("mid-conversation system message stays in place",
     {"messages": [user(text("q")), {"role": "system", "content": [text("env")]}, assistant(text("a")),
                   user(text("q2"))]},
     [{"role": "user", "content": "q"}, {"role": "system", "content": "env"},
      {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]),
    ("user text blocks joined into one string",
     {"messages": [user(text("a", cache_control={"type": "ephemeral"}), text("b"))]},
     [{"role": "user", "content": "a\nb"}]),
    ("base64 and url images",
     {"messages": [user(text("see"), {"type": "image", "source": PNG},
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}})]},
     [{"role": "user", "content": [
         {"type": "text", "text": "see"},
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
         {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]),
    ("tool loop: tool msgs right after the tool_calls, before the user's remaining text",
     {"messages": [user(text("go")), assistant(text("ok"), tool_use("toolu_1", inp={"command": "ls"}),
                                               tool_use("toolu_2", "Read", {"path": "é"})),
                   user({"type": "tool_result", "tool_use_id": "toolu_1", "content": "out1"},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
                         "content": [text("no such file")]},
                        text("now continue"))]},
     [{"role": "user", "content": "go"},
      {"role": "assistant", "content": "ok", "tool_calls": [
          {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}},
          {"id": "toolu_2", "type": "function", "function": {"name": "Read", "arguments": '{"path": "é"}'}}]},
      {"role": "tool", "tool_call_id": "toolu_1", "content": "out1"},
      {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no such file"},
      {"role": "user", "content": "now continue"}]),
    ("tool_result empty and tool_reference (ToolSearch)",
     {"messages": [assistant(tool_use("t1", "ToolSearch"), tool_use("t2")),
                   user({"type": "tool_result", "tool_use_id": "t1",
                         "content": [{"type": "tool_reference", "tool_name": "WebSearch"}]},
                        {"type": "tool_result", "tool_use_id": "t2"})]},
     [{"role": "assistant", "content": None, "tool_calls": [
         {"id": "t1", "type": "function", "function": {"name": "ToolSearch", "arguments": "{}"}},
         {"id": "t2", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": "Tool WebSearch loaded: it can be called now."},
      {"role": "tool", "tool_call_id": "t2", "content": ""}]),
    ("tool_result image moved to a follow-up user message",
     {"messages": [assistant(tool_use("t1", "Screenshot")),
                   user({"type": "tool_result", "tool_use_id": "t1",
                         "content": [text("shot"), {"type": "image", "source": PNG}]})]},
     [{"role": "assistant", "content": None, "tool_calls": [
         {"id": "t1", "type": "function", "function": {"name": "Screenshot", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": "shot\n[1 image(s) follow in the next user message]"},
      {"role": "user", "content": [{"type": "text", "text": "Image(s) returned by tool call t1:"},
                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]),
    ("thinking dropped for a preset without echo, never leaked as text",
     {"messages": [user(text("q")), assistant({"type": "thinking", "thinking": "secret plan", "signature": "s"},
                                              {"type": "redacted_thinking", "data": "xx"}, text("answer")),
                   user(text("q2"))]},
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "answer"}, {"role": "user", "content": "q2"}]),
    ("assistant string content and empty assistant dropped",
     {"messages": [user(text("q")), {"role": "assistant", "content": "a"}, user(text("q2")), assistant(),
                   user(text("q3"))]},
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"},
      {"role": "user", "content": "q3"}]),
    ("pdf document replaced by a placeholder, text document inlined",
     {"messages": [user({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "J"}},
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}})]},
     [{"role": "user", "content": "[document omitted: this model cannot read it]\ndoc"}]),
]


@pytest.mark.parametrize("case,body,expected", MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
def test_messages_table(case: str, body: dict, expected: list) -> None:
    payload, _, _ = tr(body)
    assert payload["messages"] == expected


def test_deepseek_echoes_reasoning_content_and_openrouter_reasoning() -> None:
    body = {"messages": [user(text("q")), assistant({"type": "thinking", "thinking": "plan", "signature": "x"},
                                                    tool_use("t1")),
                         user({"type": "tool_result", "tool_use_id": "t1", "content": "ok"})]}
    deepseek, notes, _ = tr(body, "deepseek")
    assert deepseek["messages"][1]["reasoning_content"] == "plan"
    assert "reasoning" not in deepseek["messages"][1]
    openrouter, _, _ = tr(body, "openrouter")
    assert openrouter["messages"][1]["reasoning"] == "plan"
    plain, notes, _ = tr(body, "groq")
    assert "plan" not in json.dumps(plain)
    assert "dropped 1 thinking block" in notes


def test_merge_preset_folds_late_system_into_the_leading_one() -> None:
    body = {"system": "top", "messages": [user(text("q")), {"role": "system", "content": "late"}]}
    payload, _, _ = tr(body, "vllm")
    assert payload["messages"] == [{"role": "system", "content": "top\n\nlate"}, {"role": "user", "content": "q"}]


def test_tools_schema_names_and_server_tools() -> None:
    tools = [
        {"name": "Bash", "description": "run", "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"command": {"type": "string"}}, "required": ["command"], "additionalProperties": False},
         "cache_control": {"type": "ephemeral"}},
        {"name": "WebSearch", "description": "w", "input_schema": {"type": "object"}, "defer_loading": True},
        {"name": LONG_NAME, "input_schema": {}},
        {"name": "bad.name/x", "input_schema": {"type": "object", "properties": {}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    ]
    payload, notes, out = tr({"tools": tools, "tool_choice": {"type": "tool", "name": LONG_NAME}})
    fns = [t["function"] for t in payload["tools"]]
    assert [f["name"] for f in fns][:2] == ["Bash", "WebSearch"]
    assert fns[0]["parameters"] == {"type": "object", "properties": {"command": {"type": "string"}},
                                    "required": ["command"], "additionalProperties": False}
    assert "defer_loading" not in json.dumps(payload) and "cache_control" not in json.dumps(payload)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", f["name"]) for f in fns)
    assert fns[2]["parameters"] == {"type": "object", "properties": {}}
    assert out.names == {fns[2]["name"]: LONG_NAME, fns[3]["name"]: "bad.name/x"}
    assert payload["tool_choice"] == {"type": "function", "function": {"name": fns[2]["name"]}}
    assert len(payload["tools"]) == 4 and any("web_search" in n for n in notes)
    assert upstream_tool_name(LONG_NAME) == fns[2]["name"], "stable: history and tools agree"


@pytest.mark.parametrize("choice,expected", [
    ({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none"),
    ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}),
])
def test_tool_choice(choice: dict, expected: Any) -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    payload, _, _ = tr({"tools": tools, "tool_choice": choice})
    assert payload["tool_choice"] == expected
    assert "parallel_tool_calls" not in payload
    payload, _, _ = tr({"tools": tools, "tool_choice": {**choice, "disable_parallel_tool_use": True}})
    assert payload["parallel_tool_calls"] is False


def test_forced_server_tool_beside_function_tools_is_not_forced_upstream() -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}, {"type": "web_search_20250305", "name": "web_search"}]
    payload, notes, _ = tr({"tools": tools, "tool_choice": {"type": "tool", "name": "web_search"}})
    assert payload["tool_choice"] == "auto" and [t["function"]["name"] for t in payload["tools"]] == ["Bash"]
    assert any("tool_choice web_search" in n for n in notes)


def test_only_server_tools_leaves_no_tools_and_no_tool_choice() -> None:
    body = json.loads((FIXTURES / "websearch_server_tool.json").read_text())["body"]
    payload, notes, _ = tr(body, "openrouter")
    assert "tools" not in payload and "tool_choice" not in payload
    assert any("tool_choice dropped" in n for n in notes)


@pytest.mark.parametrize("preset,model,body,expected,absent", [
    ("groq", "llama", {"max_tokens": 64000, "temperature": 1, "top_p": 0.9, "top_k": 5,
                       "stop_sequences": ["a", "b", "c", "d", "e"]},
     {"max_tokens": 64000, "temperature": 1, "top_p": 0.9, "stop": ["a", "b", "c", "d"]}, ["top_k"]),
    ("vllm", "qwen", {"top_k": 5}, {"top_k": 5}, []),
    ("openai", "gpt-5-mini", {"max_tokens": 5000, "temperature": 1, "thinking": {"type": "enabled", "budget_tokens": 31999}},
     {"max_completion_tokens": 5000, "reasoning_effort": "high"}, ["max_tokens", "temperature"]),
    ("openai", "o3", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
     {"reasoning_effort": "high"}, []),
    ("openai", "gpt-4.1", {"thinking": {"type": "enabled", "budget_tokens": 2000}, "temperature": 0.2},
     {"max_tokens": 100, "temperature": 0.2}, ["reasoning_effort", "max_completion_tokens"]),
    ("openrouter", "x/y", {"thinking": {"type": "enabled", "budget_tokens": 5000}},
     {"reasoning": {"effort": "medium"}}, ["reasoning_effort"]),
    ("openrouter", "x/y", {"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, {}, ["reasoning"]),
    ("groq", "openai/gpt-oss-120b", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"},
                                     "max_tokens": 100},
     {"reasoning_effort": "high", "max_completion_tokens": 100}, ["max_tokens"]),
    ("groq", "llama-3.3-70b-versatile", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
     {}, ["reasoning_effort"]),
    # claude --effort xhigh / max: each preset gets the strongest level it accepts
    ("openai", "gpt-5", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}},
     {"reasoning_effort": "high"}, []),
    ("openrouter", "x/y", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}},
     {"reasoning": {"effort": "xhigh"}}, ["reasoning_effort"]),
    ("openrouter", "x/y", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
     {"reasoning": {"effort": "xhigh"}}, []),
    ("deepseek", "deepseek-chat", {"thinking": {"type": "enabled", "budget_tokens": 5000}}, {},
     ["reasoning_effort", "reasoning"]),
])
def test_sampling_and_reasoning_parameters(preset, model, body, expected, absent) -> None:
    payload, _, _ = tr({"model": model, **body}, preset)
    for key, value in expected.items():
        assert payload[key] == value, key
    for key in absent:
        assert key not in payload, key


def test_max_tokens_clamped_by_cap_and_model_limit() -> None:
    payload, notes, _ = tr({"max_tokens": 64000}, limits=Limits(max_tokens_cap=16000, max_output_tokens=8192))
    assert payload["max_tokens"] == 8192
    assert "max_tokens clamped 64000 → 8192" in notes


def test_anthropic_only_fields_dropped_and_user_and_format_mapped() -> None:
    body = json.loads((FIXTURES / "v2330_auto_mode_safeguards.json").read_text())["body"]
    body["metadata"] = {"user_id": "u" * 300}
    body["output_config"]["format"] = {"type": "json_schema", "schema": {"type": "object"}}
    payload, notes, _ = tr(body, "openai")
    allowed = {"model", "messages", "tools", "tool_choice", "max_tokens", "max_completion_tokens", "temperature",
               "top_p", "stop", "reasoning_effort", "user", "response_format", "stream", "stream_options",
               "parallel_tool_calls"}
    assert set(payload) <= allowed
    assert payload["user"] == stable_user("u" * 300) and len(payload["user"]) <= 128
    assert payload["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}
    assert "safeguards dropped: no classifier on this provider" in notes
    dumped = json.dumps(payload)
    for word in ("cache_control", "context_management", "safeguards", "defer_loading", "x-anthropic-billing-header",
                 "$schema"):
        assert word not in dumped, word


def test_stream_options_only_where_supported() -> None:
    assert "stream_options" not in tr({"stream": True}, "groq")[0]
    assert tr({"stream": True}, "deepseek")[0]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in tr({"stream": True}, "deepseek", stream_usage=False)[0], "options override"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_real_claude_code_requests_translate_cleanly(name: str) -> None:
    body = json.loads((FIXTURES / name).read_text())["body"]
    payload, _, _ = tr(body, "openrouter")
    messages = payload["messages"]
    assert all(m["role"] in {"system", "user", "assistant", "tool"} for m in messages)
    for i, m in enumerate(messages):  # every tool_calls answered right after, in order
        if m.get("tool_calls"):
            ids = [c["id"] for c in m["tool_calls"]]
            assert [x["tool_call_id"] for x in messages[i + 1:i + 1 + len(ids)]] == ids
            for call in m["tool_calls"]:
                assert isinstance(json.loads(call["function"]["arguments"]), dict)
    assert "cache_control" not in json.dumps(payload)


def test_orphan_tool_result_is_a_local_400_and_missing_result_gets_a_placeholder() -> None:
    with pytest.raises(InvalidRequest, match="no matching tool_use"):
        tr({"messages": [user({"type": "tool_result", "tool_use_id": "nope", "content": "x"})]})
    payload, notes, _ = tr({"messages": [assistant(tool_use("a"), tool_use("b")),
                                         user({"type": "tool_result", "tool_use_id": "a", "content": "x"}, text("go"))]})
    assert [m.get("tool_call_id") for m in payload["messages"][1:3]] == ["a", "b"]
    assert payload["messages"][3] == {"role": "user", "content": "go"}
    assert any("placeholder" in n for n in notes)


def test_bad_role_is_a_local_400() -> None:
    with pytest.raises(InvalidRequest, match="role"):
        tr({"messages": [{"role": "robot", "content": "x"}]})


def test_optional_objects_of_the_wrong_type_count_as_absent() -> None:
    """The validator leaves these fields alone: a string in place of an object must not be a 500."""
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    payload, _, _ = tr({"tools": tools, "tool_choice": "auto", "metadata": "u", "output_config": "x",
                        "thinking": "on"}, "openai")
    assert "parallel_tool_calls" not in payload and "user" not in payload
    assert "response_format" not in payload and "reasoning_effort" not in payload
    payload, _, _ = tr({"thinking": {"type": "adaptive"}, "output_config": "x"}, "openrouter")
    assert payload["reasoning"] == {"effort": "medium"}


def test_mistral_and_xai_presets() -> None:
    body = {"stream": True, "metadata": {"user_id": "u1"}, "thinking": {"type": "adaptive"},
            "output_config": {"effort": "medium"}}
    mistral, _, _ = tr(body, "mistral")
    assert mistral["model"] == "m" and "stream_options" not in mistral and "user" not in mistral
    assert "reasoning_effort" not in mistral
    grok_mini, _, _ = tr({**body, "model": "grok-3-mini"}, "xai")
    assert grok_mini["reasoning_effort"] == "low" and grok_mini["stream_options"] == {"include_usage": True}
    grok_mini_max, _, _ = tr({**body, "model": "grok-3-mini", "output_config": {"effort": "xhigh"}}, "xai")
    assert grok_mini_max["reasoning_effort"] == "high"
    grok4, _, _ = tr({**body, "model": "grok-4"}, "xai")
    assert "reasoning_effort" not in grok4  # grok-4 rejects the parameter


def test_mistral_gets_nine_character_tool_ids_for_history_from_other_providers() -> None:
    """Mistral rejects any tool call id that is not 9 alphanumerics (a route switch brings toolu_ ids)."""
    body = {"messages": [user({"type": "text", "text": "go"}),
                         {"role": "assistant", "content": [
                             {"type": "tool_use", "id": "toolu_01AbCdEfGh", "name": "Bash", "input": {}},
                             {"type": "tool_use", "id": "D681PevKs", "name": "Read", "input": {}}]},
                         user({"type": "tool_result", "tool_use_id": "D681PevKs", "content": "b"},
                              {"type": "tool_result", "tool_use_id": "toolu_01AbCdEfGh", "content": "a"})]}
    payload, _, _ = tr(body, "mistral")
    calls = next(m for m in payload["messages"] if m.get("tool_calls"))["tool_calls"]
    results = [m["tool_call_id"] for m in payload["messages"] if m["role"] == "tool"]
    assert all(len(c["id"]) == 9 and c["id"].isalnum() for c in calls)
    assert calls[1]["id"] == "D681PevKs"  # Mistral's own ids are kept
    assert sorted(results) == sorted(c["id"] for c in calls)
    openai, _, _ = tr(body, "openai")
    assert next(m for m in openai["messages"] if m.get("tool_calls"))["tool_calls"][0]["id"] == "toolu_01AbCdEfGh"
