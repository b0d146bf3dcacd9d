"""Server-sent events: encode Anthropic frames, decode any upstream's frames incrementally.

The decoder keeps only the unfinished tail of the input, so memory does not grow with the
stream; it accepts LF and CRLF, ``data:`` with or without a space, comment lines, and
input split anywhere (mid-line, mid-UTF-8).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# json.dumps with any option builds a new JSONEncoder per call; one shared encoder is ~25% faster
# per event on the stream hot path, with byte-identical output.
_compact = json.JSONEncoder(separators=(",", ":")).encode


def encode_event(event_type: str, data: dict) -> bytes:
    """One Anthropic SSE frame: ``event:`` equals ``data.type``, ended by a blank line."""
    return b"event: " + event_type.encode() + b"\ndata: " + _compact(data).encode() + b"\n\n"


@dataclass(slots=True)
class SSEFrame:
    event: str | None
    data: str


#: No real SSE frame comes near this; an upstream that never ends a line or frame is broken.
MAX_FRAME_BYTES = 8 * 1024 * 1024


class FrameTooLarge(ValueError):
    """An upstream sent more than :data:`MAX_FRAME_BYTES` without ending a line."""


class SSEDecoder:
    """Feed raw bytes, get complete frames. Frames with no data lines are dropped.

    The unfinished tail is kept in a bytearray and only its new bytes are searched, so a long
    line arriving in small pieces costs linear time; past ``max_line`` it raises FrameTooLarge.
    """

    __slots__ = ("_tail", "_scanned", "_event", "_data", "_max")

    def __init__(self, max_line: int = MAX_FRAME_BYTES) -> None:
        self._tail = bytearray()
        self._scanned = 0  # bytes of _tail known to hold no newline
        self._event: str | None = None
        self._data: list[str] = []
        self._max = max_line

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        buf = self._tail
        buf += chunk
        frames: list[SSEFrame] = []
        start = 0
        nl = buf.find(b"\n", self._scanned)
        while nl >= 0:
            line = bytes(buf[start:nl])
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            self._line(line, frames)
            nl = buf.find(b"\n", start)
        del buf[:start]
        self._scanned = len(buf)
        if self._scanned > self._max:
            raise FrameTooLarge(f"no line end in {self._scanned} bytes of event stream")
        return frames

    def close(self) -> list[SSEFrame]:
        """Flush a last frame that was not followed by a blank line."""
        frames: list[SSEFrame] = []
        if self._tail:
            self._line(bytes(self._tail).rstrip(b"\r"), frames)
            self._tail.clear()
            self._scanned = 0
        self._line(b"", frames)
        return frames

    def _line(self, line: bytes, frames: list[SSEFrame]) -> None:
        if not line:
            if self._data:
                frames.append(SSEFrame(self._event, "\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line[:1] == b":":
            return
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")


_FRAME_END = re.compile(rb"\n\r?\n")


def split_frames(run: bytes) -> list[bytes]:
    """A run of frames → each frame's own bytes, its blank line included (an unterminated tail last)."""
    frames, start = [], 0
    for end in _FRAME_END.finditer(run):
        frames.append(run[start:end.end()])
        start = end.end()
    if start < len(run):
        frames.append(run[start:])
    return frames


def parse_frame(raw: bytes) -> SSEFrame | None:
    """One frame's bytes → the frame, or None for a frame with no data (a comment, a bare ``event:``)."""
    event, data = None, []
    for line in raw.splitlines():
        if not line or line[:1] == b":":
            continue
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data.append(value.decode("utf-8", "replace"))
        elif field == b"event":
            event = value.decode("utf-8", "replace")
    return SSEFrame(event, "\n".join(data)) if data else None
