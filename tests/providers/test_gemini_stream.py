"""The Gemini stream translator: exact event sequences and the invariants Claude Code depends on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm_tui.errors import UpstreamUnavailable
from ccm_tui.providers.gemini.response import call_id_from_tool_id, signature_from_tool_id, translate_response
from ccm_tui.providers.gemini.stream import GeminiStreamTranslator
from tests.fakes.gemini_server import call_part, chunk, merge, text_part, usage

from .test_gemini_response import SEARCH_META

DELTA_FOR = {"text": {"text_delta", "citations_delta"}, "tool_use": {"input_json_delta"},
             "server_tool_use": {"input_json_delta"}, "thinking": {"thinking_delta", "signature_delta"}}


def run(chunks: list[dict[str, Any]], **kw: Any) -> list[tuple[str, dict[str, Any]]]:
    translator = GeminiStreamTranslator("claude-x", **kw)
    events = []
    for item in chunks:
        events += translator.feed(item)
    events += translator.finish()
    check_invariants(events)
    return events


def check_invariants(events: list[tuple[str, dict[str, Any]]]) -> None:
    """§0 of the translation notes, checked independently of the translator."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names.count("message_start") == 1
    assert names[1] == "ping"
    assert names[-2:] == ["message_delta", "message_stop"] and names.count("message_stop") == 1
    open_block: tuple[int, str] | None = None
    next_index = 0
    for name, data in events:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_block is None, "two blocks open"
            assert data["index"] == next_index, "indices not contiguous"
            open_block = (data["index"], data["content_block"]["type"])
            next_index += 1
        elif name == "content_block_delta":
            assert open_block is not None and data["index"] == open_block[0]
            assert data["delta"]["type"] in DELTA_FOR[open_block[1]]
        elif name == "content_block_stop":
            assert open_block is not None and data["index"] == open_block[0]
            open_block = None
        elif name == "message_delta":
            assert open_block is None
    for _name, data in events:
        json.dumps(data)  # every event is JSON


def blocks(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Accumulate like a client would."""
    out: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_start":
            out.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            delta, block = data["delta"], out[data["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
    for index, raw in partial.items():
        out[index]["input"] = json.loads(raw)
    return out


def test_text_only_exact_sequence() -> None:
    events = run([chunk([text_part("Hel")]), chunk([text_part("lo")]), chunk([text_part("!")], "STOP", usage(12, 3))],
                 input_tokens=11)
    assert [n for n, _ in events] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                      "content_block_delta", "content_block_delta", "content_block_stop",
                                      "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["model"] == "claude-x" and start["content"] == [] and start["usage"]["input_tokens"] == 11
    assert blocks(events) == [{"type": "text", "text": "Hello!"}]
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"input_tokens": 12, "output_tokens": 3, "cache_read_input_tokens": 0,
                                       "cache_creation_input_tokens": 0}}


def test_thinking_text_then_parallel_tool_calls() -> None:
    events = run([
        chunk([text_part("think", thought=True)]),
        chunk([text_part(" more", thought=True), text_part("Running.")]),
        chunk([call_part("Bash", {"command": "echo \"é\\n\""}, signature="S1+/=="), call_part("Read", {})],
              "STOP", usage(50, 9, thoughts=20, cached=10)),
    ])
    got = blocks(events)
    assert [b["type"] for b in got] == ["thinking", "text", "tool_use", "tool_use"]
    assert got[0] == {"type": "thinking", "thinking": "think more", "signature": "gemini:"}
    assert got[2]["input"] == {"command": "echo \"é\\n\""} and got[3]["input"] == {}
    assert signature_from_tool_id(got[2]["id"]) == "S1+/==" and signature_from_tool_id(got[3]["id"]) is None
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["input_tokens"] == 40 and delta["usage"]["output_tokens"] == 29
    assert delta["usage"]["cache_read_input_tokens"] == 10


def test_tool_then_text_and_thought_signature_on_thinking() -> None:
    events = run([chunk([call_part("A", {"x": 1})]), chunk([text_part("done")]),
                  chunk([text_part("t", thought=True, signature="TS")]), chunk([], "STOP")])
    got = blocks(events)
    assert [b["type"] for b in got] == ["tool_use", "text", "thinking"]
    assert got[2]["signature"] == "gemini:TS"


def test_no_content_still_a_valid_message() -> None:
    events = run([chunk([], "STOP", usage(3, 0))])
    assert blocks(events) == [] and events[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_empty_parts_open_no_block() -> None:
    assert blocks(run([chunk([text_part("")]), chunk([text_part("")], "STOP")])) == []


def test_text_part_signatures_travel_on_a_thinking_block() -> None:
    """Gemini 3 signs text parts too, often an empty last part: the signature is kept, not dropped."""
    events = run([chunk([text_part("Hel")]), chunk([text_part("lo")]), chunk([text_part("", signature="TS1")], "STOP")])
    assert blocks(events) == [{"type": "text", "text": "Hello"},
                              {"type": "thinking", "thinking": "", "signature": "gemini:TS1"}]
    events = run([chunk([text_part("mull", thought=True)]), chunk([text_part("Answer", signature="TS2")], "STOP")])
    assert blocks(events) == [{"type": "thinking", "thinking": "mull", "signature": "gemini:TS2"},
                              {"type": "text", "text": "Answer"}]


@pytest.mark.parametrize(("finish", "stop"), [("MAX_TOKENS", "max_tokens"), ("SAFETY", "refusal"),
                                              ("RECITATION", "refusal"), ("OTHER", "end_turn")])
def test_finish_reasons(finish: str, stop: str) -> None:
    events = run([chunk([text_part("x")]), chunk([], finish)])
    assert events[-2][1]["delta"]["stop_reason"] == stop


def test_prompt_blocked_stream_is_a_refusal() -> None:
    events = run([{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage(8, 0)}])
    assert blocks(events) == [] and events[-2][1]["delta"]["stop_reason"] == "refusal"


def test_usage_last_chunk_wins_and_missing_counts_are_tolerated() -> None:
    events = run([chunk([text_part("a")], meta=usage(10, 1)), chunk([text_part("b")], meta={"totalTokenCount": 0}),
                  chunk([text_part("c")], "STOP", usage(10, 3))])
    assert events[-2][1]["usage"]["output_tokens"] == 3
    events = run([chunk([text_part("a")]), chunk([], "STOP")], input_tokens=7)
    assert events[-2][1]["usage"]["input_tokens"] == 7  # the estimate survives when Gemini counts nothing


def test_stream_cut_before_finish_reason_is_an_error() -> None:
    translator = GeminiStreamTranslator("m")
    translator.feed(chunk([text_part("partial")]))
    with pytest.raises(UpstreamUnavailable, match="finishReason"):
        translator.finish()
    with pytest.raises(UpstreamUnavailable):
        GeminiStreamTranslator("m").finish()


def test_streamed_function_call_arguments_are_assembled() -> None:
    events = run([
        chunk([{"functionCall": {"name": "Write", "willContinue": True}, "thoughtSignature": "PS"}]),
        chunk([{"functionCall": {"partialArgs": [{"jsonPath": "$.path", "stringValue": "/tmp/"}],
                                 "willContinue": True}}]),
        chunk([{"functionCall": {"partialArgs": [{"jsonPath": "$.path", "stringValue": "a.txt"},
                                                 {"jsonPath": "$.opts.lines[1]", "numberValue": 5},
                                                 {"jsonPath": "$.opts.force", "boolValue": True}],
                                 "willContinue": True}}]),
        chunk([{"functionCall": {}}]),
        chunk([text_part("ok")], "STOP"),
    ])
    got = blocks(events)
    assert got[0]["name"] == "Write"
    assert got[0]["input"] == {"path": "/tmp/a.txt", "opts": {"lines": [None, 5], "force": True}}
    assert signature_from_tool_id(got[0]["id"]) == "PS"
    assert got[1] == {"type": "text", "text": "ok"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_bare_will_continue_pieces_between_array_elements_do_not_end_the_call() -> None:
    """Vertex streams a 10-ingredient recipe with a bare ``{willContinue: true}`` between elements."""
    ingredients = [f"ingredient {i}" for i in range(10)]
    chunks = [chunk([{"functionCall": {"name": "save_recipe", "willContinue": True}}]),
              chunk([{"functionCall": {"partialArgs": [{"jsonPath": "$.title", "stringValue": "Soup"}],
                                       "willContinue": True}}])]
    for i, item in enumerate(ingredients):
        chunks.append(chunk([{"functionCall": {"partialArgs": [{"jsonPath": f"$.ingredients[{i}]",
                                                                "stringValue": item}], "willContinue": True}}]))
        chunks.append(chunk([{"functionCall": {"willContinue": True}}]))
    chunks += [chunk([{"functionCall": {}}]), chunk([], "STOP", usage())]
    events = run(chunks)
    got = blocks(events)
    assert len(got) == 1 and got[0]["name"] == "save_recipe"
    assert got[0]["input"] == {"title": "Soup", "ingredients": ingredients}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_gemini_call_ids_are_kept_in_streamed_tool_ids() -> None:
    events = run([chunk([{"functionCall": {"id": "fc-1", "name": "A", "args": {}}},
                         {"functionCall": {"id": "fc-2", "name": "B", "willContinue": True}}]),
                  chunk([{"functionCall": {}}], "STOP")])
    assert [call_id_from_tool_id(b["id"]) for b in blocks(events)] == ["fc-1", "fc-2"]


def test_unfinished_streamed_call_is_emitted_at_the_end() -> None:
    events = run([chunk([{"functionCall": {"name": "Bash", "willContinue": True,
                                           "partialArgs": [{"jsonPath": "$.command", "stringValue": "ls"}]}}]),
                  chunk([], "STOP")])
    assert blocks(events)[0]["input"] == {"command": "ls"}


def test_names_are_restored_in_the_stream() -> None:
    events = run([chunk([call_part("mcp_x", {})], "STOP")], names={"mcp_x": "mcp x"})
    assert blocks(events)[0]["name"] == "mcp x"


def test_grounded_stream_emits_search_blocks_then_cited_text() -> None:
    events = run([chunk([text_part("Textual 3.0 is out. ")]),
                  chunk([text_part("It adds themes.")], "STOP", usage(), groundingMetadata=SEARCH_META)],
                 grounding=True)
    got = blocks(events)
    assert [b["type"] for b in got] == ["server_tool_use", "web_search_tool_result", "text", "text", "text"]
    assert got[0]["input"] == {"query": "textual release notes"}
    assert len(got[1]["content"]) == 2
    assert got[2]["citations"][0]["url"] == "https://a.example/1"
    assert "".join(b["text"] for b in got[2:]) == "Textual 3.0 is out. It adds themes."
    assert events[-2][1]["usage"]["server_tool_use"] == {"web_search_requests": 1}


def test_grounded_stream_keeps_thinking_first_with_its_signature() -> None:
    events = run([chunk([text_part("Let me look", thought=True, signature="c2ln")]),
                  chunk([text_part("Textual 3.0 is out.")], "STOP", usage(), groundingMetadata=SEARCH_META)],
                 grounding=True)
    got = blocks(events)
    assert [b["type"] for b in got][:3] == ["thinking", "server_tool_use", "web_search_tool_result"]
    assert got[0]["thinking"] == "Let me look" and got[0]["signature"] == "gemini:c2ln"


def test_translators_share_no_state() -> None:
    a, b = GeminiStreamTranslator("m"), GeminiStreamTranslator("m")
    a.feed(chunk([text_part("x")]))
    events = b.feed(chunk([call_part("T", {})]))
    starts = [d for n, d in events if n == "content_block_start"]
    assert starts[0]["index"] == 0 and starts[0]["content_block"]["type"] == "tool_use"


# -- fuzz: any sequence of parts keeps the invariants and agrees with the non-stream translation -----
PARTS = st.one_of(
    st.builds(text_part, st.text(max_size=8), thought=st.booleans(),
              signature=st.one_of(st.none(), st.sampled_from(["S1==", "S2"]))),
    st.builds(call_part, st.sampled_from(["Bash", "Read", "T"]),
              st.dictionaries(st.sampled_from(["a", "b"]), st.one_of(st.integers(), st.text(max_size=5)),
                              max_size=2),
              signature=st.one_of(st.none(), st.just("SIG/+=="))),
)
FINISH = st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "OTHER"])


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "id"} | ({"sig": signature_from_tool_id(b["id"])} if "id" in b else {})
            for b in items]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(PARTS, max_size=4), min_size=1, max_size=6), FINISH)
def test_fuzz_stream_matches_non_stream(parts_per_chunk: list[list[dict[str, Any]]], finish: str) -> None:
    chunks = [chunk(parts) for parts in parts_per_chunk]
    chunks[-1]["candidates"][0]["finishReason"] = finish
    events = run(chunks)
    message = translate_response(merge(chunks), "claude-x")
    assert without_ids(blocks(events)) == without_ids(message["content"])
    assert events[-2][1]["delta"]["stop_reason"] == message["stop_reason"]
