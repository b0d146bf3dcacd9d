"""Responses API answers → Anthropic: the stream state machine and the JSON translation agree,
under any split of the upstream bytes, and keep the stream invariants Claude Code relies on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccm_tui.errors import ProxyError
from ccm_tui.providers.openai.response import InvalidToolArguments
from ccm_tui.providers.openai.responses_response import (
    REASONING_PREFIX,
    decode_reasoning,
    reasoning_item,
    translate_responses_response,
)
from ccm_tui.providers.openai.responses_stream import ResponsesStreamTranslator
from ccm_tui.providers.openai.websearch import SearchStream, search_message
from ccm_tui.sse import SSEDecoder
from tests.fakes.openai_server import assemble
from tests.fakes.responses_server import (
    function_call,
    message,
    reasoning,
    response,
    stream_events,
    usage,
    web_search_call,
    wire,
)

ARGS = json.dumps({"command": "echo \"héllo\" \\u00e9 ✓", "timeout": 5})
OUTPUT = [reasoning(["First, plan.", "Then act."], "ENC-abc"), message("Running it ✓ now."),
          function_call("Bash", ARGS, "call_A", "fc_A"), function_call("Read", "", "call_B", "fc_B")]
USAGE = usage(1200, 300, cached=1000, reasoning_tokens=120)


def run(events: list[dict], **kw: Any) -> list[tuple[str, dict]]:
    t = ResponsesStreamTranslator("claude-x", **kw)
    out: list[tuple[str, dict]] = []
    for e in events:
        out += t.feed(e)
    return out + t.finish()


def non_stream(output: list[dict], use: dict | None = USAGE, **kw: Any) -> dict[str, Any]:
    return translate_responses_response(response(output, use, **kw), model="claude-x")[0]


def strip_id(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "id"}


def test_full_answer_stream_matches_json_and_maps_usage() -> None:
    streamed = assemble(run(stream_events(OUTPUT, USAGE)))
    assert strip_id(streamed) == strip_id(non_stream(OUTPUT))
    thinking, text, bash, read = streamed["content"]
    assert thinking["thinking"] == "First, plan.\n\nThen act."
    assert decode_reasoning(thinking["signature"]) == {"id": "rs_1", "encrypted_content": "ENC-abc"}
    assert text == {"type": "text", "text": "Running it ✓ now."}
    assert (bash["id"], bash["name"], bash["input"]) == ("call_A", "Bash", json.loads(ARGS))
    assert (read["id"], read["input"]) == ("call_B", {})
    assert streamed["stop_reason"] == "tool_use"
    assert streamed["usage"] == {"input_tokens": 200, "output_tokens": 300, "cache_read_input_tokens": 1000,
                                 "cache_creation_input_tokens": 0}


def test_event_names_and_deltas() -> None:
    events = run(stream_events(OUTPUT, USAGE))
    names = [n for n, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    deltas = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert "thinking_delta" in deltas and deltas.count("signature_delta") == 1
    pieces = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"
              and d["delta"]["type"] == "input_json_delta" and d["index"] == 2]
    assert len(pieces) > 3 and "".join(pieces) == ARGS, "arguments stream live, byte-exact"


def test_reasoning_without_summary_is_a_redacted_block_that_replays() -> None:
    streamed = assemble(run(stream_events([reasoning([], "ENC-only"), message("ok")], USAGE)))
    block = streamed["content"][0]
    assert block["type"] == "redacted_thinking" and block["data"].startswith(REASONING_PREFIX)
    assert reasoning_item(block) == {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC-only"}
    assert strip_id(streamed) == strip_id(non_stream([reasoning([], "ENC-only"), message("ok")]))


def test_foreign_thinking_is_not_a_reasoning_item() -> None:
    assert reasoning_item({"type": "thinking", "thinking": "x", "signature": "EqQBCkYIBxgC"}) is None
    assert reasoning_item({"type": "thinking", "thinking": "x", "signature": "ccm:openai"}) is None
    assert reasoning_item({"type": "thinking", "thinking": "x", "signature": REASONING_PREFIX + "!!"}) is None


def test_arguments_only_in_done_event_still_reach_the_client() -> None:
    events = stream_events([function_call("Bash", ARGS, "call_A")], USAGE, args_in_deltas=False)
    final = assemble(run(events))
    assert final["content"][0]["input"] == json.loads(ARGS)


def test_arguments_only_in_the_finished_item() -> None:
    events = [e for e in stream_events([function_call("Bash", ARGS, "call_A")], USAGE, args_in_deltas=False)
              if e["type"] != "response.function_call_arguments.done"]
    assert assemble(run(events))["content"][0]["input"] == json.loads(ARGS)


def test_truncated_streamed_arguments_closed_and_broken_ones_a_typed_error() -> None:
    events = stream_events([function_call("Bash", '{"command": "ls"', "call_A")], USAGE)
    assert assemble(run(events))["content"][0]["input"] == {"command": "ls"}
    with pytest.raises(InvalidToolArguments):
        run(stream_events([function_call("Bash", '{"command": "ls', "call_A")], USAGE))


@pytest.mark.parametrize("reason,expected", [("max_output_tokens", "max_tokens"), ("content_filter", "refusal"),
                                             ("other", "end_turn")])
def test_incomplete_maps_its_reason(reason: str, expected: str) -> None:
    events = stream_events([message("cut sh")], USAGE, status="incomplete", reason=reason)
    assert assemble(run(events))["stop_reason"] == expected
    assert non_stream([message("cut sh")], status="incomplete", reason=reason)["stop_reason"] == expected


def test_refusal_is_text_that_ends_the_turn_not_a_policy_stop() -> None:
    output = [message("I can't help with that.", refusal=True)]
    streamed = assemble(run(stream_events(output, USAGE)))
    assert streamed["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert streamed["stop_reason"] == "end_turn" and strip_id(streamed) == strip_id(non_stream(output))


def test_failed_and_error_events_raise_typed_errors() -> None:
    events = stream_events([message("partial")], USAGE)[:6]
    failed = {"type": "response.failed", "response": {**response([], None, "failed"),
                                                      "error": {"code": "rate_limit_exceeded", "message": "slow down"}}}
    with pytest.raises(ProxyError) as caught:
        run([*events, failed])
    assert caught.value.status == 429 and "slow down" in caught.value.message
    with pytest.raises(ProxyError) as caught:
        run([*events, {"type": "error", "code": "server_error", "message": "boom", "param": None}])
    assert caught.value.status == 500 and "boom" in caught.value.message


def test_stream_without_response_completed_is_an_error() -> None:
    events = stream_events([message("never finished")], USAGE)[:-1]
    with pytest.raises(ProxyError, match="response.completed"):
        run(events)


def test_no_usage_is_estimated() -> None:
    final = assemble(run(stream_events([message("x" * 40)], None)))
    assert final["usage"]["output_tokens"] == 10


def test_web_search_answer_blocks_and_citations() -> None:
    text = "Paris is the capital of France."
    cite = {"type": "url_citation", "start_index": 0, "end_index": 5, "url": "https://ex.org/paris", "title": "Paris"}
    output = [web_search_call("capital of france"), message(text, [cite])]
    streamed = assemble(run(stream_events(output, USAGE), search=SearchStream("what is the capital")))
    kinds = [b["type"] for b in streamed["content"]]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text", "text"]
    assert streamed["content"][0]["input"] == {"query": "capital of france"}
    assert streamed["content"][1]["content"][0]["url"] == "https://ex.org/paris"
    assert streamed["content"][2]["text"] == "Paris" and streamed["content"][2]["citations"][0]["cited_text"] == "Paris"
    assert streamed["usage"]["server_tool_use"] == {"web_search_requests": 1}
    plain, cited, ran = translate_responses_response(response(output, USAGE), model="claude-x")
    search_message(plain, cited, ran or "what is the capital")
    same = ("type", "text", "citations", "input")
    assert [{k: b.get(k) for k in same} for b in plain["content"]] == [{k: b.get(k) for k in same}
                                                                       for b in streamed["content"]]


# -- property: any byte split of the wire gives the JSON answer ---------------------------------
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
ANSWER = st.lists(st.one_of(
    st.tuples(st.just("reasoning"), st.lists(TEXT, max_size=2), st.one_of(st.none(), st.text("abcXYZ+/=", min_size=1))),
    st.tuples(st.just("message"), TEXT.filter(bool), st.booleans()),
    st.tuples(st.just("call"), st.dictionaries(st.text("abc", min_size=1, max_size=3), TEXT, max_size=3)),
), min_size=1, max_size=5)


def _items(answer: list[tuple]) -> list[dict]:
    out = []
    for n, entry in enumerate(answer):
        if entry[0] == "reasoning":
            out.append(reasoning(entry[1], entry[2], f"rs_{n}"))
        elif entry[0] == "message":
            out.append(message(entry[1], mid=f"msg_{n}"))
        else:
            out.append(function_call("Tool", json.dumps(entry[1], ensure_ascii=False), f"call_{n}", f"fc_{n}"))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=ANSWER, cuts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
       crlf=st.booleans(), piece=st.integers(min_value=1, max_value=9))
def test_property_byte_splits_agree_with_json(answer: list[tuple], cuts: list[int], crlf: bool, piece: int) -> None:
    output = _items(answer)
    data = wire(stream_events(output, USAGE, piece=piece), crlf)
    decoder, t, events, i, k = SSEDecoder(), ResponsesStreamTranslator("claude-x"), [], 0, 0
    while i < len(data):
        size = cuts[k % len(cuts)]
        for frame in decoder.feed(data[i:i + size]):
            events += t.feed(json.loads(frame.data))
        i, k = i + size, k + 1
    events += t.finish()
    assert strip_id(assemble(events)) == strip_id(non_stream(output))


def test_interleaved_parallel_calls_are_attributed_by_output_index() -> None:
    a, b = json.dumps({"command": "sleep 1"}), json.dumps({"command": "echo B"})
    calls = [function_call("Bash", a, "call_A", "fc_A"), function_call("Bash", b, "call_B", "fc_B")]
    events = stream_events(calls, USAGE, piece=4)
    head, tail = events[:2], events[-1:]
    per_call = [[e for e in events[2:-1] if e.get("output_index") == n] for n in (0, 1)]
    mixed = [e for pair in zip(per_call[0], per_call[1], strict=False) for e in pair]
    longest = max(per_call, key=len)
    mixed += longest[len(min(per_call, key=len)):]
    final = assemble(run([*head, *mixed, *tail]))
    assert [(b["id"], b["input"]) for b in final["content"]] == [("call_A", json.loads(a)), ("call_B", json.loads(b))]
    assert final["stop_reason"] == "tool_use"
