"""Gemini non-stream responses, stop reasons, usage, grounding and errors → Anthropic (tables)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccm_tui.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    Overloaded,
    PermissionDenied,
    ProxyError,
    RateLimited,
    UpstreamTimeout,
)
from ccm_tui.providers.gemini.response import (
    parse_gemini_error,
    signature_from_tool_id,
    stop_reason_for,
    translate_response,
    usage_from,
)
from tests.fakes.gemini_server import call_part, chunk, merge, text_part, usage

SEARCH_META = {
    "webSearchQueries": ["textual release notes"],
    "groundingChunks": [{"web": {"uri": "https://a.example/1", "title": "a.example"}},
                        {"web": {"uri": "https://b.example/2", "title": "b.example"}}],
    "groundingSupports": [
        {"segment": {"startIndex": 0, "endIndex": 17, "text": "Textual 3.0 is out."},
         "groundingChunkIndices": [0]},
        {"segment": {"text": "It adds themes."}, "groundingChunkIndices": [0, 1]},
        {"segment": {"text": "not in the text"}, "groundingChunkIndices": [1]},
    ],
}


def test_parts_become_thinking_text_and_tool_use_in_order() -> None:
    data = merge([chunk([text_part("plan ", thought=True), text_part("more", thought=True)]),
                  chunk([text_part("I'll run it.")]),
                  chunk([call_part("Bash", {"command": "ls"}, signature="SIG+/=="), call_part("TaskList", {})],
                        "STOP", usage(100, 10, 5, 40))])
    message = translate_response(data, "claude-sonnet-4-5")
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["thinking", "text", "tool_use", "tool_use"]
    assert message["content"][0] == {"type": "thinking", "thinking": "plan more", "signature": "gemini:"}
    first, second = message["content"][2], message["content"][3]
    assert first["name"] == "Bash" and first["input"] == {"command": "ls"}
    assert signature_from_tool_id(first["id"]) == "SIG+/=="
    assert second["input"] == {} and second["id"] != first["id"] and second["id"].startswith("toolu_")
    assert message["stop_reason"] == "tool_use"  # Gemini said STOP
    assert message["model"] == "claude-sonnet-4-5" and message["id"].startswith("msg_")
    assert message["stop_sequence"] is None and message["role"] == "assistant"
    assert message["usage"] == {"input_tokens": 60, "output_tokens": 15, "cache_read_input_tokens": 40,
                                "cache_creation_input_tokens": 0}


def test_tool_names_are_restored() -> None:
    data = merge([chunk([call_part("mcp_server_do_thing", {"a": 1})], "STOP")])
    message = translate_response(data, "m", {"mcp_server_do_thing": "mcp server/do thing"})
    assert message["content"][0]["name"] == "mcp server/do thing"


@pytest.mark.parametrize(("finish", "has_tool", "expected"), [
    ("STOP", False, "end_turn"),
    ("STOP", True, "tool_use"),
    ("MAX_TOKENS", False, "max_tokens"),
    ("MAX_TOKENS", True, "max_tokens"),
    ("SAFETY", False, "refusal"),
    ("RECITATION", False, "refusal"),
    ("BLOCKLIST", False, "refusal"),
    ("PROHIBITED_CONTENT", False, "refusal"),
    ("SPII", False, "refusal"),
    ("IMAGE_SAFETY", False, "refusal"),
    ("MALFORMED_FUNCTION_CALL", False, "end_turn"),
    ("LANGUAGE", False, "end_turn"),
    ("OTHER", False, "end_turn"),
    ("FINISH_REASON_UNSPECIFIED", False, "end_turn"),
    (None, False, "end_turn"),
])
def test_finish_reason_table(finish: str | None, has_tool: bool, expected: str) -> None:
    assert stop_reason_for(finish, has_tool_use=has_tool) == expected


def test_prompt_block_without_candidates_is_a_refusal() -> None:
    message = translate_response({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(9, 0)}, "m")
    assert message["stop_reason"] == "refusal" and message["content"] == []
    assert message["usage"]["input_tokens"] == 9


@pytest.mark.parametrize(("meta", "expected"), [
    (usage(100, 10), (100, 10, 0)),
    (usage(100, 10, thoughts=30), (100, 40, 0)),
    (usage(100, 10, cached=64), (36, 10, 64)),
    ({"promptTokenCount": 5, "toolUsePromptTokenCount": 7, "candidatesTokenCount": 1}, (12, 1, 0)),
    ({"promptTokenCount": 3, "cachedContentTokenCount": 10}, (0, 0, 10)),  # never negative
    ({}, (0, 0, 0)),
    (None, (0, 0, 0)),
])
def test_usage_table(meta: Any, expected: tuple[int, int, int]) -> None:
    got = usage_from(meta)
    assert (got["input_tokens"], got["output_tokens"], got["cache_read_input_tokens"]) == expected


def test_grounded_answer_becomes_web_search_blocks_with_citations() -> None:
    data = merge([chunk([text_part("Textual 3.0 is out. It adds themes. Enjoy.")], "STOP", usage(),
                        groundingMetadata=SEARCH_META)])
    message = translate_response(data, "m", grounding=True)
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text", "text", "text", "text"]
    use, results = message["content"][0], message["content"][1]
    assert use["name"] == "web_search" and use["input"] == {"query": "textual release notes"}
    assert use["id"].startswith("srvtoolu_") and results["tool_use_id"] == use["id"]
    assert [r["url"] for r in results["content"]] == ["https://a.example/1", "https://b.example/2"]
    texts = message["content"][2:]
    assert "".join(t["text"] for t in texts) == "Textual 3.0 is out. It adds themes. Enjoy."
    assert [(t["text"], [c["url"] for c in t.get("citations", [])]) for t in texts] == [
        ("Textual 3.0 is out.", ["https://a.example/1"]), (" ", []),
        ("It adds themes.", ["https://a.example/1", "https://b.example/2"]), (" Enjoy.", [])]
    assert texts[2]["citations"][1] == {"type": "web_search_result_location", "url": "https://b.example/2",
                                        "title": "b.example", "encrypted_index": "", "cited_text": "It adds themes."}
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1}
    assert message["stop_reason"] == "end_turn"


def test_grounding_requested_but_not_used_leaves_plain_text() -> None:
    data = merge([chunk([text_part("No search needed.")], "STOP")])
    message = translate_response(data, "m", grounding=True)
    assert message["content"] == [{"type": "text", "text": "No search needed."}]
    assert "server_tool_use" not in message["usage"]


def err(code: int, status: str, message: str = "m", details: list[Any] | None = None) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status,
                                 "details": details or []}}).encode()


@pytest.mark.parametrize(("status", "raw", "cls", "http"), [
    (400, err(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name"), InvalidRequest, 400),
    (400, err(400, "INVALID_ARGUMENT", "API key not valid.", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]),
     AuthenticationFailed, 401),
    (401, err(401, "UNAUTHENTICATED"), AuthenticationFailed, 401),
    (403, err(403, "PERMISSION_DENIED"), PermissionDenied, 403),
    (404, err(404, "NOT_FOUND", "models/gemini-9 is not found"), NotFound, 404),
    (429, err(429, "RESOURCE_EXHAUSTED"), RateLimited, 429),
    (500, err(500, "INTERNAL"), ProxyError, 500),
    (503, err(503, "UNAVAILABLE", "The model is overloaded."), Overloaded, 529),
    (504, err(504, "DEADLINE_EXCEEDED"), UpstreamTimeout, 504),
    (502, b"<html>bad gateway</html>", ProxyError, 500),
    (400, json.dumps([{"error": {"code": 400, "message": "x", "status": "FAILED_PRECONDITION"}}]).encode(),
     InvalidRequest, 400),
])
def test_error_table(status: int, raw: bytes, cls: type[ProxyError], http: int) -> None:
    error = parse_gemini_error("gem", status, raw, {})
    assert type(error) is cls and error.status == http
    assert error.message.startswith("gem: ")


def test_rate_limit_retry_delay_becomes_retry_after() -> None:
    raw = err(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "36.4s"}])
    error = parse_gemini_error("gem", 429, raw, {})
    assert isinstance(error, RateLimited) and error.headers == {"retry-after": "37"}
    # an upstream retry-after header wins over the body
    assert parse_gemini_error("gem", 429, raw, {"Retry-After": "5"}).headers == {"retry-after": "5"}


def test_context_length_error_says_prompt_is_too_long() -> None:
    raw = err(400, "INVALID_ARGUMENT",
              "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).")
    error = parse_gemini_error("gem", 400, raw, {})
    assert isinstance(error, InvalidRequest)
    assert "prompt is too long: 1200000 tokens > 1048576 maximum" in error.message
