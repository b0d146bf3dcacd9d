"""The stream translator: chunk sequences in, the exact Anthropic event sequence out.

Every case goes through ``assemble``, which fails on any invariant Claude Code relies on.
"""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccm_tui.errors import ProxyError
from ccm_tui.providers.openai.presets import THINKING_SIGNATURE
from ccm_tui.providers.openai.response import InvalidToolArguments, translate_response
from ccm_tui.providers.openai.stream import OpenAIStreamTranslator, message_events
from ccm_tui.sse import SSEDecoder
from tests.fakes.openai_server import assemble


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict | None = None,
          **choice: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "up",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish, **choice}], "usage": usage}


def tc(index: int | None, args: str | None = None, id: str | None = None, name: str | None = None) -> dict:
    frag: dict[str, Any] = {"function": {}}
    if index is not None:
        frag["index"] = index
    if id is not None:
        frag["id"], frag["type"] = id, "function"
    if name is not None:
        frag["function"]["name"] = name
    if args is not None:
        frag["function"]["arguments"] = args
    return frag


def calls(*frags: dict) -> dict[str, Any]:
    return chunk({"tool_calls": list(frags)})


USAGE = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9}}
ROLE = chunk({"role": "assistant", "content": ""})


def run(chunks: list[dict], **kw: Any) -> list[tuple[str, dict]]:
    t = OpenAIStreamTranslator("claude-x", **kw)
    events: list[tuple[str, dict]] = []
    for c in chunks:
        events += t.feed(c)
    return events + t.finish()


def final(chunks: list[dict], **kw: Any) -> dict[str, Any]:
    return assemble(run(chunks, **kw))


def blocks(message: dict) -> list[tuple]:
    out = []
    for b in message["content"]:
        if b["type"] == "tool_use":
            out.append(("tool_use", b["id"], b["name"], b["input"]))
        else:
            out.append((b["type"], b.get("text", b.get("thinking"))))
    return out


def test_text_only_exact_sequence() -> None:
    events = run([ROLE, chunk({"content": "Hel"}), chunk({"content": "lo"}), chunk(finish="stop"), USAGE])
    assert [e[0] for e in events] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["model"] == "claude-x" and start["id"].startswith("msg_") and start["content"] == []
    assert events[2][1]["content_block"] == {"type": "text", "text": ""}
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"input_tokens": 50, "output_tokens": 9, "cache_read_input_tokens": 0,
                                       "cache_creation_input_tokens": 0}}


def test_role_only_and_empty_chunks_open_nothing_and_finish_only_is_valid() -> None:
    msg = final([ROLE, chunk({"content": None, "tool_calls": []}), chunk(finish="stop")])
    assert msg["content"] == [] and msg["stop_reason"] == "end_turn"


def test_repeated_first_chunk_gives_one_message_start() -> None:
    events = run([ROLE, ROLE, chunk({"content": "a"}), chunk(finish="stop")])
    assert [e[0] for e in events].count("message_start") == 1


def test_single_tool_call_args_split_mid_escape() -> None:
    args = json.dumps({"path": "café \"q\" \\ é", "n": [1, 2]})
    pieces = ["", args[:9], args[9:14], args[14:15], args[15:]]
    msg = final([ROLE, calls(tc(0, pieces[0], "call_a", "Write")), *[calls(tc(0, p)) for p in pieces[1:]],
                 chunk(finish="tool_calls"), USAGE])
    assert blocks(msg) == [("tool_use", "call_a", "Write", json.loads(args))]
    assert msg["stop_reason"] == "tool_use"


def test_streamed_argument_bytes_are_passed_through_exactly() -> None:
    raw = '{"path": "caf\\u00e9", "x": 1}'
    events = run([calls(tc(0, "", "c1", "Read")), calls(tc(0, raw[:12])), calls(tc(0, raw[12:])),
                  chunk(finish="tool_calls")])
    sent = "".join(e[1]["delta"]["partial_json"] for e in events if e[1].get("delta", {}).get("type") == "input_json_delta")
    assert sent == raw


@pytest.mark.parametrize("args", ["", "{}"])
def test_no_arg_tool(args: str) -> None:
    msg = final([calls(tc(0, args, "c1", "TaskList")), chunk(finish="tool_calls")])
    assert blocks(msg) == [("tool_use", "c1", "TaskList", {})]


def test_text_then_tool_and_tool_then_text() -> None:
    msg = final([chunk({"content": "Let me look."}), calls(tc(0, '{"a":1}', "c1", "Read")), chunk(finish="tool_calls")])
    assert blocks(msg) == [("text", "Let me look."), ("tool_use", "c1", "Read", {"a": 1})]
    msg = final([calls(tc(0, '{"a":1}', "c1", "Read")), chunk({"content": "done"}), chunk(finish="stop")])
    assert blocks(msg) == [("tool_use", "c1", "Read", {"a": 1}), ("text", "done")]
    assert msg["stop_reason"] == "tool_use", "finish 'stop' after tool calls is still tool_use"


def test_parallel_calls_in_order() -> None:
    chunks = [ROLE]
    for i, name in enumerate(["A", "B", "C"]):
        chunks += [calls(tc(i, "", f"c{i}", name)), calls(tc(i, '{"i":')), calls(tc(i, f"{i}}}"))]
    msg = final([*chunks, chunk(finish="tool_calls"), USAGE])
    assert blocks(msg) == [("tool_use", f"c{i}", n, {"i": i}) for i, n in enumerate("ABC")]


def test_interleaved_fragments_attributed_by_index() -> None:
    chunks = [calls(tc(0, "", "c0", "A")), calls(tc(1, "", "c1", "B")), calls(tc(0, '{"x": "a')),
              calls(tc(1, '{"y": "b')), calls(tc(0, 'aa"}')), calls(tc(1, 'bb"}')), chunk(finish="tool_calls")]
    msg = final(chunks)
    assert blocks(msg) == [("tool_use", "c0", "A", {"x": "aaa"}), ("tool_use", "c1", "B", {"y": "bbb"})]


def test_several_complete_calls_in_one_chunk() -> None:
    msg = final([calls(tc(0, '{"a":1}', "c0", "A"), tc(1, '{"b":2}', "c1", "B"), tc(2, "{}", "c2", "C")),
                 chunk(finish="tool_calls")])
    assert blocks(msg) == [("tool_use", "c0", "A", {"a": 1}), ("tool_use", "c1", "B", {"b": 2}),
                           ("tool_use", "c2", "C", {})]


def test_all_calls_on_index_zero_with_distinct_ids() -> None:
    msg = final([calls(tc(0, "", "c0", "A")), calls(tc(0, '{"a":1}')), calls(tc(0, "", "c1", "B")),
                 calls(tc(0, '{"b":2}')), chunk(finish="tool_calls")])
    assert blocks(msg) == [("tool_use", "c0", "A", {"a": 1}), ("tool_use", "c1", "B", {"b": 2})]


def test_missing_index_empty_id_and_id_on_every_fragment() -> None:
    msg = final([calls(tc(None, '{"a":', "", "A")), calls(tc(None, "1}")), chunk(finish="tool_calls")])
    [(kind, tid, name, inp)] = blocks(msg)
    assert tid.startswith("toolu_") and (name, inp) == ("A", {"a": 1})
    msg = final([calls(tc(0, '{"a":', "same", "A")), calls(tc(0, "1}", "same", "A")), chunk(finish="tool_calls")])
    assert blocks(msg) == [("tool_use", "same", "A", {"a": 1})]
    msg = final([calls(tc(0, "", None, "Ba")), calls(tc(0, None, None, "sh")), calls(tc(0, "{}")), chunk(finish="tool_calls")])
    assert blocks(msg)[0][2] == "Bash", "a name split in pieces is joined"


def test_empty_tool_calls_list_with_text_is_text() -> None:
    msg = final([chunk({"content": "hi", "tool_calls": []}), chunk({"content": "!", "tool_calls": []}), chunk(finish="stop")])
    assert blocks(msg) == [("text", "hi!")]


def test_long_tool_name_restored() -> None:
    msg = final([calls(tc(0, "{}", "c", "short_1234")), chunk(finish="tool_calls")], names={"short_1234": "mcp__x.y"})
    assert blocks(msg)[0][2] == "mcp__x.y"


@pytest.mark.parametrize("finish,expected", [("length", "max_tokens"), ("content_filter", "refusal"),
                                             ("stop", "end_turn"), ("unknown_reason", "end_turn")])
def test_finish_reasons(finish: str, expected: str) -> None:
    assert final([chunk({"content": "x"}), chunk(finish=finish)])["stop_reason"] == expected


def test_streamed_refusal_is_text_with_end_turn_and_a_note() -> None:
    notes: list[str] = []
    msg = final([ROLE, chunk({"refusal": "I can't "}), chunk({"refusal": "help with that."}), chunk(finish="stop"),
                 USAGE], note=notes.append)
    assert blocks(msg) == [("text", "I can't help with that.")]
    assert msg["stop_reason"] == "end_turn"
    assert sum("refused" in n for n in notes) == 1


def test_stop_sequence_from_vllm_stop_reason() -> None:
    msg = final([chunk({"content": "x"}), chunk(finish="stop", stop_reason="###")], stop_sequences=["###"])
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "###")


def test_usage_chunk_merged_and_nothing_after_message_stop() -> None:
    t = OpenAIStreamTranslator("m")
    events = t.feed(chunk({"content": "x"})) + t.feed(chunk(finish="stop"))
    assert "message_delta" not in [e[0] for e in events], "held until the usage chunk"
    events += t.feed({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
                                                "prompt_tokens_details": {"cached_tokens": 4}}})
    assert events[-1][0] == "message_stop"
    assert events[-2][1]["usage"] == {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 4,
                                      "cache_creation_input_tokens": 0}
    assert t.feed(chunk({"content": "late"})) == [] and t.finish() == []


def test_no_usage_chunk_estimates_and_finish_chunk_usage_wins_unsummed() -> None:
    msg = final([chunk({"content": "x" * 40}), chunk(finish="stop")], input_tokens=123)
    assert msg["usage"]["input_tokens"] == 123 and msg["usage"]["output_tokens"] == 10
    u1, u2 = {"prompt_tokens": 10, "completion_tokens": 1}, {"prompt_tokens": 10, "completion_tokens": 2}
    msg = final([chunk({"content": "a"}, usage=u1), chunk({"content": "b"}, finish="stop", usage=u2)])
    assert msg["usage"]["output_tokens"] == 2 and msg["usage"]["input_tokens"] == 10


def test_reasoning_first_then_text() -> None:
    events = run([chunk({"role": "assistant", "content": "", "reasoning_content": ""}),
                  chunk({"reasoning_content": "think"}), chunk({"reasoning_content": "ing"}),
                  chunk({"content": "answer"}), chunk(finish="stop")])
    msg = assemble(events)
    assert blocks(msg) == [("thinking", "thinking"), ("text", "answer")]
    assert msg["content"][0]["signature"] == THINKING_SIGNATURE
    assert events[2][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}


def test_openrouter_reasoning_field_then_tool_call_no_empty_text() -> None:
    msg = final([chunk({"reasoning": "plan"}), chunk({"content": ""}), calls(tc(0, "{}", "c", "A")),
                 chunk(finish="tool_calls")])
    assert [b[0] for b in blocks(msg)] == ["thinking", "tool_use"]


def test_combined_chunks() -> None:
    msg = final([chunk({"content": "all at once"}, finish="stop")])
    assert blocks(msg) == [("text", "all at once")]
    msg = final([chunk({"reasoning_content": "r", "content": "t", "tool_calls": [tc(0, '{"k":1}', "c", "A")]},
                       finish="tool_calls")])
    assert blocks(msg) == [("thinking", "r"), ("text", "t"), ("tool_use", "c", "A", {"k": 1})]


def test_upstream_ending_without_finish_reason_is_an_error() -> None:
    t = OpenAIStreamTranslator("m")
    t.feed(chunk({"content": "partial"}))
    with pytest.raises(ProxyError) as info:
        t.finish()
    assert info.value.error_type == "api_error"
    with pytest.raises(ProxyError):
        OpenAIStreamTranslator("m").finish()


def test_truncated_streamed_arguments_closed_by_a_suffix() -> None:
    notes: list[str] = []
    msg = final([calls(tc(0, '{"a": {"b": [1', "c", "A")), chunk(finish="length")], note=notes.append)
    assert blocks(msg) == [("tool_use", "c", "A", {"a": {"b": [1]}})] and msg["stop_reason"] == "max_tokens"
    assert notes


def test_buffered_call_with_single_quotes_is_repaired() -> None:
    msg = final([calls(tc(0, '{"a":1}', "c0", "A"), tc(1, "{'b': 2,}", "c1", "B")), chunk(finish="tool_calls")])
    assert blocks(msg)[1] == ("tool_use", "c1", "B", {"b": 2})


def test_unrepairable_streamed_arguments_raise_a_typed_error() -> None:
    t = OpenAIStreamTranslator("m")
    t.feed(calls(tc(0, "{'a': 1", "c", "A")))
    with pytest.raises(InvalidToolArguments):
        t.feed(chunk(finish="tool_calls"))


def test_memory_does_not_grow_with_stream_length() -> None:
    t = OpenAIStreamTranslator("m")
    piece = chunk({"content": "0123456789" * 10})
    for _ in range(500):
        t.feed(piece)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(20000):  # 20 MB of text
        t.feed(piece)
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 200_000, grown
    tail = t.feed(chunk(finish="stop")) + t.finish()
    assert [e[0] for e in tail] == ["content_block_stop", "message_delta", "message_stop"]
    assert tail[1][1]["usage"]["output_tokens"] == 20500 * 100 // 4


def test_message_events_replays_a_message() -> None:
    message = translate_response({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "reasoning_content": "r", "content": "t", "tool_calls": [
            {"id": "c", "function": {"name": "A", "arguments": '{"k": "é"}'}}]}}]}, model="m")
    assert assemble(message_events(message)) == message


# -- property: any split of the same answer translates to the same final message -----------------------
ANSWER = st.fixed_dictionaries({
    "reasoning": st.text(max_size=30),
    "text": st.text(max_size=60),
    "calls": st.lists(st.dictionaries(st.sampled_from(["path", "cmd", "n", "é"]),
                                      st.one_of(st.text(max_size=20), st.integers(), st.booleans()), max_size=3),
                      max_size=3),
})


def _cut(text: str, points: list[int]) -> list[str]:
    cuts = sorted({p % (len(text) + 1) for p in points} | {0, len(text)})
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)] or [""]


def render(answer: dict, points: list[int]) -> list[dict]:
    chunks = [ROLE]
    chunks += [chunk({"reasoning_content": p}) for p in _cut(answer["reasoning"], points) if p]
    chunks += [chunk({"content": p}) for p in _cut(answer["text"], points) if p]
    for i, args in enumerate(answer["calls"]):
        raw = json.dumps(args, ensure_ascii=bool(i % 2))
        first, *rest = _cut(raw, points)
        chunks.append(calls(tc(i, first, f"call_{i}", f"tool_{i}")))
        chunks += [calls(tc(i, p)) for p in rest]
    return [*chunks, chunk(finish="tool_calls" if answer["calls"] else "stop"), USAGE]


def non_stream(answer: dict) -> dict:
    message = {"role": "assistant", "content": answer["text"] or None, "reasoning_content": answer["reasoning"] or None,
               "tool_calls": [{"id": f"call_{i}", "type": "function",
                               "function": {"name": f"tool_{i}", "arguments": json.dumps(a)}}
                              for i, a in enumerate(answer["calls"])]}
    finish = "tool_calls" if answer["calls"] else "stop"
    return translate_response({"choices": [{"index": 0, "message": message, "finish_reason": finish}],
                               "usage": USAGE["usage"]}, model="claude-x")


def strip_id(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "id"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=ANSWER, points=st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_property_chunk_splits_agree_with_non_stream(answer: dict, points: list[int]) -> None:
    assert strip_id(final(render(answer, points))) == strip_id(non_stream(answer))


@settings(max_examples=100, deadline=None)
@given(answer=ANSWER, cuts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
       crlf=st.booleans())
def test_property_byte_splits_agree(answer: dict, cuts: list[int], crlf: bool) -> None:
    nl = "\r\n" if crlf else "\n"
    wire = "".join(f"data: {json.dumps(c, ensure_ascii=False)}{nl}{nl}" for c in render(answer, [7, 19]))
    wire = (f": keep-alive{nl}" + wire + f"data: [DONE]{nl}{nl}").encode()
    decoder, t, events, i, k = SSEDecoder(), OpenAIStreamTranslator("claude-x"), [], 0, 0
    while i < len(wire):
        size = cuts[k % len(cuts)]
        for frame in decoder.feed(wire[i:i + size]):
            if frame.data != "[DONE]":
                events += t.feed(json.loads(frame.data))
        i, k = i + size, k + 1
    events += t.finish()
    assert strip_id(assemble(events)) == strip_id(non_stream(answer))


# -- inline <think> tags (servers without a reasoning parser; opt-in) ---------------------------------
@pytest.mark.parametrize("content,expected", [
    ("<think>plan</think>\n\nanswer", ("plan", "answer")),
    ("no tags at all", ("", "no tags at all")),
    ("<think>unfinished", ("unfinished", "")),
    ("a <thin b", ("", "a <thin b")),
    ("<think></think>x", ("", "x")),
])
def test_think_tags_split(content: str, expected: tuple) -> None:
    from ccm_tui.providers.openai.think_tags import split_think_tags

    assert split_think_tags(content) == expected
    data = {"choices": [{"index": 0, "finish_reason": "stop", "message": {"content": content}}]}
    msg = translate_response(data, model="m", think_tags=True)
    assert [b.get("thinking", b.get("text")) for b in msg["content"]] == [t for t in expected if t]


@settings(max_examples=100, deadline=None)
@given(points=st.lists(st.integers(min_value=0, max_value=60), max_size=10))
def test_think_tags_any_split_same_message(points: list[int]) -> None:
    content = "<think>step 1 < step 2</think>\n\nThe <b>answer</b> is 42."
    chunks = [chunk({"content": p}) for p in _cut(content, points) if p]
    msg = final([ROLE, *chunks, chunk(finish="stop")], think_tags=True)
    assert blocks(msg) == [("thinking", "step 1 < step 2"), ("text", "The <b>answer</b> is 42.")]
    untouched = final([ROLE, *chunks, chunk(finish="stop")])
    assert blocks(untouched) == [("text", content)], "off by default"


def test_mistral_streamed_thinking_parts_become_a_thinking_block() -> None:
    think = [{"type": "thinking", "thinking": [{"type": "text", "text": "Let me "}]}]
    msg = final([chunk({"role": "assistant", "content": ""}), chunk({"content": think}),
                 chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "count."}]}]}),
                 chunk({"content": "Three."}), chunk(finish="stop"), USAGE])
    assert blocks(msg) == [("thinking", "Let me count."), ("text", "Three.")]
