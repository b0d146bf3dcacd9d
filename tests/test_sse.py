"""The SSE decoder: any split, CRLF, comments, `data:` without a space."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccm_tui.sse import SSEDecoder, SSEFrame, encode_event, parse_frame, split_frames

STREAM = (
    b": keep-alive\r\n\r\n"
    b"event: message_start\ndata: {\"type\":\"message_start\",\"t\":\"h\xc3\xa9llo\"}\n\n"
    b"data:{\"a\":1}\r\n\r\n"
    b"data: line1\ndata: line2\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [("message_start", '{"type":"message_start","t":"héllo"}'), (None, '{"a":1}'), (None, "line1\nline2"),
            (None, "[DONE]")]


def decode(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    decoder = SSEDecoder()
    frames = [f for c in chunks for f in decoder.feed(c)] + decoder.close()
    return [(f.event, f.data) for f in frames]


def test_whole() -> None:
    assert decode([STREAM]) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_frames(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode(chunks) == EXPECTED


def test_last_frame_without_blank_line_is_flushed() -> None:
    assert decode([b"data: x"]) == [(None, "x")]


def test_encode_event_shape() -> None:
    assert encode_event("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_a_line_that_never_ends_is_bounded() -> None:
    import time

    import pytest

    from ccm_tui.sse import FrameTooLarge

    decoder = SSEDecoder(max_line=1_000_000)
    started = time.perf_counter()
    with pytest.raises(FrameTooLarge):
        for _ in range(2_000):  # 2 MB in 1 KB pieces, no newline
            decoder.feed(b"x" * 1024)
    assert time.perf_counter() - started < 2.0, "linear, not a rescan of the whole tail per piece"
    assert SSEDecoder().feed(b"data: " + b"y" * 100_000 + b"\n\n")[0].data == "y" * 100_000


def test_split_and_parse_frames_keep_each_frames_bytes() -> None:
    run = b": hi\n\nevent: a\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\nevent: ping\n\ndata: tail"
    frames = split_frames(run)
    assert frames == [b": hi\n\n", b"event: a\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\n", b"event: ping\n\n", b"data: tail"]
    assert b"".join(frames) == run
    assert [parse_frame(f) for f in frames] == [None, SSEFrame("a", '{"x":\n1}'), None, SSEFrame(None, "tail")]
