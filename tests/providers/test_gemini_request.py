"""Anthropic request → Gemini generateContent request: tables and real Claude Code bodies."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.errors import InvalidRequest
from ccm_tui.providers.gemini.request import build_request
from ccm_tui.providers.gemini.response import (
    SKIP_SIGNATURE,
    call_id_from_tool_id,
    make_tool_id,
    signature_from_tool_id,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "claude-code"
MODEL = "gemini-2.5-pro"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())["body"]


def payload(body: dict[str, Any], model: str = MODEL, **kw: Any) -> dict[str, Any]:
    return build_request({"model": model, "max_tokens": 1000, **body}, model, **kw).payload


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": t, **extra}


def tool_use(tool_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": args}


def result(tool_id: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": content, **extra}


# -- system, roles, merging ---------------------------------------------------------------------
def test_system_string_and_blocks_and_mid_conversation_system_fold_into_system_instruction() -> None:
    body = {"system": [text("x-anthropic-billing-header: cc_version=1;"), text("You are CC.",
                                                                                cache_control={"type": "ephemeral"})],
            "messages": [user(text("hi")), {"role": "system", "content": "Env: linux"}, user(text("again"))]}
    out = payload(body)
    assert out["systemInstruction"] == {"parts": [{"text": "You are CC.\n\nEnv: linux"}]}
    # the two user turns around the folded system message merge into one Gemini turn
    assert out["contents"] == [{"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]}]
    assert payload({"system": "plain", "messages": [user(text("x"))]})["systemInstruction"] == {
        "parts": [{"text": "plain"}]}


def test_roles_map_and_consecutive_turns_merge() -> None:
    out = payload({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                {"role": "assistant", "content": [text("c")]}, {"role": "user", "content": "d"}]})
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "a"}]},
        {"role": "model", "parts": [{"text": "b"}, {"text": "c"}]},
        {"role": "user", "parts": [{"text": "d"}]},
    ]


def test_dropped_fields_never_reach_gemini() -> None:
    out = payload(fixture("v2330_auto_mode_safeguards"))
    assert set(out) == {"contents", "systemInstruction", "tools", "generationConfig"}
    assert not keys(out) & {"cache_control", "defer_loading", "$schema", "additionalProperties", "input_schema",
                            "output_config", "tool_use_id"}
    assert "x-anthropic-billing-header" not in json.dumps(out)


def keys(node: Any) -> set[str]:
    """Every key of every dict nested in ``node`` (names inside ``properties`` included)."""
    if isinstance(node, dict):
        return set(node).union(*map(keys, node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*map(keys, node)) if node else set()
    return set()


def test_images_and_documents() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}
    url = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    request = build_request({"messages": [user(text("look"), image, pdf, url)]}, MODEL)
    parts = request.payload["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}
    assert parts[2] == {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}}
    assert parts[3] == {"text": "[image: https://example.com/a.png]"}
    assert any("URL" in note for note in request.notes)


# -- tools in the conversation ------------------------------------------------------------------
def test_tool_use_and_tool_result_map_to_function_call_and_response_by_name() -> None:
    body = {"messages": [
        user(text("run it")),
        assistant(text("ok"), tool_use("toolu_a", "Bash", {"command": "ls"}), tool_use("toolu_b", "Read", {"p": 1})),
        user(text("after"), result("toolu_b", [text("line1"), text("line2")]),
             result("toolu_a", "boom", is_error=True)),
    ]}
    contents = payload(body)["contents"]
    model_turn, user_turn = contents[1], contents[2]
    assert model_turn["role"] == "model"
    calls = [p["functionCall"] for p in model_turn["parts"] if "functionCall" in p]
    assert calls == [{"name": "Bash", "args": {"command": "ls"}}, {"name": "Read", "args": {"p": 1}}]
    responses = [p["functionResponse"] for p in user_turn["parts"] if "functionResponse" in p]
    # in the order of the calls, not of the results (Gemini pairs them by position)
    assert responses == [{"name": "Bash", "response": {"error": "boom"}},
                         {"name": "Read", "response": {"result": "line1\nline2"}}]
    assert len(responses) == len(calls)
    # function responses come first in their turn, the user's text after them
    assert "functionResponse" in user_turn["parts"][0] and user_turn["parts"][-1] == {"text": "after"}


def test_parallel_results_sent_in_finish_order_answer_their_own_calls() -> None:
    """Claude Code sends tool_results in the order the tools finished: the fast call first."""
    slow, fast = "toolu_slow", "toolu_fast"
    body = {"messages": [
        user(text("run both")),
        assistant(tool_use(slow, "Bash", {"command": "sleep 1 && echo slow-A"}),
                  tool_use(fast, "Bash", {"command": "echo fast-B"})),
        user(result(fast, "fast-B\n"), result(slow, "slow-A\n")),
        assistant(text("done")), user(text("again")),
    ]}
    contents = payload(body)["contents"]
    calls = [p["functionCall"]["args"]["command"] for p in contents[1]["parts"]]
    outputs = [p["functionResponse"]["response"]["result"] for p in contents[2]["parts"]]
    assert calls == ["sleep 1 && echo slow-A", "echo fast-B"]
    assert outputs == ["slow-A\n", "fast-B\n"]  # position i answers call i
    assert all(set(p) == {"functionResponse"} for p in contents[2]["parts"])  # no private keys leak


def test_gemini_call_ids_go_back_on_the_call_and_its_response() -> None:
    a, b = make_tool_id("CiQBsig==", call_id="fc-a1"), make_tool_id(call_id="fc-b2")
    body = {"messages": [user(text("go")), assistant(tool_use(a, "Read", {"f": 1}), tool_use(b, "Grep", {"p": "x"})),
                         user(text("note"), result(b, "B"), result(a, "A"))]}
    contents = payload(body)["contents"]
    assert [p["functionCall"]["id"] for p in contents[1]["parts"]] == ["fc-a1", "fc-b2"]
    assert contents[1]["parts"][0]["thoughtSignature"] == "CiQBsig=="
    assert contents[2]["parts"] == [{"functionResponse": {"name": "Read", "response": {"result": "A"}, "id": "fc-a1"}},
                                    {"functionResponse": {"name": "Grep", "response": {"result": "B"}, "id": "fc-b2"}},
                                    {"text": "note"}]


@pytest.mark.parametrize("call_id", ["fc-1", "a__ts0_x", "ünï", "x" * 200])
def test_tool_id_carries_the_call_id_with_or_without_a_signature(call_id: str) -> None:
    for signature in (None, "CiQB+/==", "odd sig!"):
        tool_id = make_tool_id(signature, call_id)
        assert all(c.isalnum() or c in "_-" for c in tool_id)
        assert call_id_from_tool_id(tool_id) == call_id
        assert signature_from_tool_id(tool_id) == signature
    assert call_id_from_tool_id(make_tool_id("sig")) is None
    assert call_id_from_tool_id("toolu_01Anthropic") is None


def test_tool_result_with_image_sends_the_image_as_a_part() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}
    body = {"messages": [user(text("x")), assistant(tool_use("toolu_s", "Shot", {})),
                         user(result("toolu_s", [text("screenshot"), image]))]}
    parts = payload(body)["contents"][2]["parts"]
    assert parts == [{"functionResponse": {"name": "Shot", "response": {"result": "screenshot"}}},
                     {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}}]


def test_tool_reference_becomes_text_and_loads_the_deferred_tool() -> None:
    body = fixture("v2330_toolsearch_tool_reference")
    out = payload(body)
    response = out["contents"][2]["parts"][0]["functionResponse"]
    assert response == {"name": "ToolSearch", "response": {"result": "Tool loaded: WebSearch"}}
    declared = [d["name"] for d in out["tools"][0]["functionDeclarations"]]
    assert "WebSearch" in declared  # defer_loading + referenced → declared
    assert "DeferredToolPlaceholder" not in declared  # deferred and never referenced
    assert len(declared) == len(body["tools"]) - 1


def test_tool_result_without_tool_use_is_a_400() -> None:
    with pytest.raises(InvalidRequest, match="toolu_nope"):
        payload({"messages": [user(result("toolu_nope", "x"))]})


# -- thoughtSignature round trip ----------------------------------------------------------------
@pytest.mark.parametrize("signature", [
    "CiQBcsjafQ+abc/def==", "CiQBcsjafQabc", "Zm9v=", "a-b_c", "sig with spaces!", "x" * 3000,
])
def test_tool_id_carries_the_signature_reversibly_in_anthropic_id_characters(signature: str) -> None:
    tool_id = make_tool_id(signature)
    assert tool_id.startswith("toolu_")
    assert all(c.isalnum() or c in "_-" for c in tool_id)
    assert signature_from_tool_id(tool_id) == signature


def test_plain_ids_carry_no_signature() -> None:
    assert signature_from_tool_id(make_tool_id()) is None
    assert signature_from_tool_id("toolu_01AbCdEf") is None


def test_signature_returns_on_its_function_call_and_sentinel_fills_a_lost_one() -> None:
    sig = "CiQBcsjafQ+sig/A=="
    body = {"messages": [
        user(text("go")),
        assistant(tool_use(make_tool_id(sig), "Bash", {"command": "a"}), tool_use(make_tool_id(), "Bash", {})),
    ]}
    body["messages"].append(user(*[result(b["id"], "ok") for b in body["messages"][1]["content"]]))
    body["messages"] += [assistant(tool_use("toolu_01FromAnthropic", "Read", {"f": "x"})),
                         user(result("toolu_01FromAnthropic", "ok"))]
    contents = payload(body)["contents"]
    first, second = contents[1]["parts"], contents[3]["parts"]
    assert first[0]["thoughtSignature"] == sig
    assert "thoughtSignature" not in first[1]  # parallel calls: only the first carries one
    assert second[0]["thoughtSignature"] == SKIP_SIGNATURE  # foreign/lost → documented sentinel


def test_thinking_blocks_are_dropped_but_a_gemini_signature_moves_to_the_next_part() -> None:
    body = {"messages": [user(text("q")), assistant(
        {"type": "thinking", "thinking": "hmm", "signature": "gemini:SIGTEXT"}, text("answer"),
        {"type": "thinking", "thinking": "anthropic", "signature": "EqAnthropicSig"},
        {"type": "redacted_thinking", "data": "xx"}, text("more"))]}
    parts = payload(body)["contents"][1]["parts"]
    assert parts == [{"text": "answer", "thoughtSignature": "SIGTEXT"}, {"text": "more"}]


# -- tool declarations and choice ---------------------------------------------------------------
def test_fixture_tools_become_function_declarations() -> None:
    out = payload(fixture("print_mode_main"))
    declarations = out["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == [t["name"] for t in fixture("print_mode_main")["tools"]]
    bash = next(d for d in declarations if d["name"] == "Bash")
    assert bash["parameters"]["required"] == ["command"]
    assert "parameters" not in next(d for d in declarations if d["name"] == "TaskList")


def test_web_search_server_tool_becomes_google_search_grounding() -> None:
    request = build_request(fixture("websearch_server_tool"), MODEL)
    assert request.grounding
    assert request.payload["tools"] == [{"google_search": {}}]
    assert "toolConfig" not in request.payload  # the forced choice named the server tool


def test_unknown_anthropic_defined_tool_is_dropped_with_a_note() -> None:
    request = build_request({"messages": [user(text("x"))], "tools": [
        {"type": "text_editor_20250124", "name": "str_replace_editor"}]}, MODEL)
    assert "tools" not in request.payload and request.notes


TOOL = {"name": "Bash", "input_schema": {"type": "object", "properties": {"c": {"type": "string"}}}}


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, {"functionCallingConfig": {"mode": "AUTO"}}),
    ({"type": "any"}, {"functionCallingConfig": {"mode": "ANY"}}),
    ({"type": "none"}, {"functionCallingConfig": {"mode": "NONE"}}),
    ({"type": "tool", "name": "Bash"}, {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Bash"]}}),
    ({"type": "auto", "disable_parallel_tool_use": True}, {"functionCallingConfig": {"mode": "AUTO"}}),
    (None, None),
])
def test_tool_choice_table(choice: Any, expected: Any) -> None:
    body: dict[str, Any] = {"messages": [user(text("x"))], "tools": [TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    assert payload(body).get("toolConfig") == expected


def test_illegal_tool_names_are_fixed_and_mapped_back() -> None:
    request = build_request({"messages": [user(text("x"))], "tools": [{**TOOL, "name": "mcp server/do thing"}]}, MODEL)
    name = request.payload["tools"][0]["functionDeclarations"][0]["name"]
    assert name == "mcp_server_do_thing" and request.names[name] == "mcp server/do thing"


# -- generation config --------------------------------------------------------------------------
def test_sampling_and_stop_sequences() -> None:
    body = {"messages": [user(text("x"))], "max_tokens": 500, "temperature": 0.3, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["a", "b", "c", "d", "e", "f"]}
    request = build_request({"model": MODEL, **body}, MODEL)
    config = request.payload["generationConfig"]
    assert config == {"maxOutputTokens": 500, "temperature": 0.3, "topP": 0.9, "topK": 40,
                      "stopSequences": ["a", "b", "c", "d", "e"]}
    assert request.notes


def test_max_tokens_clamped_to_the_cap() -> None:
    request = build_request(fixture("v2330_print_mode_main"), MODEL, max_output=8192)
    assert request.payload["generationConfig"]["maxOutputTokens"] == 8192
    assert any("clamped" in note for note in request.notes)


@pytest.mark.parametrize(("model", "thinking", "extra", "expected"), [
    ("gemini-2.5-pro", {"type": "enabled", "budget_tokens": 31999}, {}, {"thinkingBudget": 24576,
                                                                          "includeThoughts": True}),
    ("gemini-2.5-flash", {"type": "enabled", "budget_tokens": 2048}, {}, {"thinkingBudget": 2048,
                                                                           "includeThoughts": True}),
    ("gemini-2.5-pro", {"type": "adaptive"}, {}, {"thinkingBudget": -1, "includeThoughts": True}),
    ("gemini-2.5-pro", {"type": "adaptive", "display": "omitted"}, {}, {"thinkingBudget": -1,
                                                                         "includeThoughts": False}),
    ("gemini-3-pro-preview", {"type": "adaptive"}, {"output_config": {"effort": "low"}},
     {"thinkingLevel": "low", "includeThoughts": True}),
    ("gemini-3-pro-preview", {"type": "adaptive"}, {"output_config": {"effort": "high"}},
     {"thinkingLevel": "high", "includeThoughts": True}),
    ("gemini-3-pro-preview", {"type": "adaptive"}, {"output_config": {"effort": "xhigh"}},
     {"thinkingLevel": "high", "includeThoughts": True}),
    ("gemini-2.5-pro", {"type": "disabled"}, {}, None),
    ("gemini-2.0-flash", {"type": "enabled", "budget_tokens": 4000}, {}, None),
])
def test_thinking_table(model: str, thinking: dict[str, Any], extra: dict[str, Any], expected: Any) -> None:
    body = {"messages": [user(text("x"))], "max_tokens": 32000, "thinking": thinking, **extra}
    assert payload(body, model).get("generationConfig", {}).get("thinkingConfig") == expected


def test_thinking_budget_stays_below_a_small_max_tokens_and_options_override() -> None:
    body = {"messages": [user(text("x"))], "max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 8000}}
    assert payload(body)["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 2000
    assert "thinkingConfig" not in payload(body, options={"thinking": False})["generationConfig"]
    assert "thinkingConfig" in payload(body, "my-tuned-model", options={"thinking": True})["generationConfig"]


def test_structured_output_for_session_titles() -> None:
    config = payload(fixture("session_title"))["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {"type": "object", "properties": {"title": {"type": "string"}},
                                        "required": ["title"]}


def test_json_schema_mode_sends_the_schema_unchanged() -> None:
    body = fixture("print_mode_main")
    out = payload(body, options={"schema_mode": "json_schema"})
    bash = next(d for d in out["tools"][0]["functionDeclarations"] if d["name"] == "Bash")
    original = next(t for t in body["tools"] if t["name"] == "Bash")["input_schema"]
    assert bash["parametersJsonSchema"] == original and "parameters" not in bash


def test_input_body_is_not_mutated() -> None:
    body = fixture("v2330_toolsearch_tool_reference")
    before = copy.deepcopy(body)
    payload(body)
    assert body == before


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture_translates(name: str) -> None:
    out = payload(fixture(name))
    assert out["contents"] and out["contents"][0]["role"] == "user"
    roles = [c["role"] for c in out["contents"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))  # alternating after merging


def test_output_config_of_the_wrong_type_counts_as_absent() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, "output_config": "x",
            "thinking": {"type": "adaptive"}}
    config = payload(body, "gemini-3-pro-preview")["generationConfig"]
    assert "responseMimeType" not in config and config["thinkingConfig"]["thinkingLevel"] == "high"


def test_a_trailing_text_signature_returns_on_the_last_text_part() -> None:
    """Gemini 3 signs text parts (the streamed answer's last, empty part): sent back like call signatures."""
    body = {"messages": [user(text("q")), assistant(text("Hello"), {"type": "thinking", "thinking": "",
                                                                     "signature": "gemini:TS1"}), user(text("more"))]}
    assert payload(body)["contents"][1]["parts"] == [{"text": "Hello", "thoughtSignature": "TS1"}]
    body["messages"][1] = assistant(tool_use(make_tool_id("FC"), "Bash", {}),
                                    {"type": "thinking", "thinking": "", "signature": "gemini:TS2"})
    body["messages"][2] = user(result(body["messages"][1]["content"][0]["id"], "ok"))
    parts = payload(body)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == "FC" and parts[1] == {"text": "", "thoughtSignature": "TS2"}
