"""Whole Anthropic content blocks and messages as stream events (pure), for the translators.

Used where a block is complete before it goes out: search answers (their citations arrive after
the text) and JSON answers replayed as a stream (servers that ignore ``stream: true``).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

Event = tuple[str, dict[str, Any]]


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def block_events(i: int, block: dict[str, Any]) -> list[Event]:
    """One complete content block as start, deltas, stop (citations go out before their text)."""
    kind = block["type"]

    def delta(d: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})

    if kind in ("tool_use", "server_tool_use"):
        empty: dict[str, Any] = {**block, "input": {}}
        deltas = [delta({"type": "input_json_delta", "partial_json": json.dumps(block["input"], ensure_ascii=False)})]
    elif kind == "thinking":
        empty = {**block, "thinking": "", "signature": ""}
        deltas = [delta({"type": "thinking_delta", "thinking": block["thinking"]}),
                  delta({"type": "signature_delta", "signature": block["signature"]})]
    elif kind == "text":
        empty = {k: v for k, v in block.items() if k != "citations"} | {"text": ""}
        deltas = [delta({"type": "citations_delta", "citation": c}) for c in block.get("citations") or []]
        deltas += [delta({"type": "text_delta", "text": block["text"]})] if block["text"] else []
    else:  # web_search_tool_result and other result blocks arrive whole in their start event
        empty, deltas = block, []
    return [("content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}),
            *deltas, ("content_block_stop", {"type": "content_block_stop", "index": i})]


def start_events(message_id: str, model: str, usage: dict[str, Any]) -> list[Event]:
    """``message_start`` (no content, no stop reason yet) and the ``ping`` Anthropic sends after it."""
    head = {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}
    return [("message_start", {"type": "message_start", "message": head}), ("ping", {"type": "ping"})]


def message_events(message: dict[str, Any]) -> list[Event]:
    """A complete Anthropic message as its stream (for servers that ignore ``stream: true``)."""
    head = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    events: list[Event] = [("message_start", {"type": "message_start", "message": head}), ("ping", {"type": "ping"})]
    for i, block in enumerate(message.get("content") or []):
        events.extend(block_events(i, block))
    events.append(("message_delta", {"type": "message_delta", "usage": message.get("usage") or {},
                                     "delta": {"stop_reason": message.get("stop_reason"),
                                               "stop_sequence": message.get("stop_sequence")}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class BlockWriter:
    """The Anthropic half of a stream translator: one ``message_start``, then blocks one at a time.

    A subclass sets ``message_id``, ``model``, ``input_tokens`` and ``_ev`` (the events out), and
    starts with ``_started = False``, ``_index = -1`` and ``_open = None``.
    """

    message_id: str
    model: str
    input_tokens: int
    _ev: list[Event]
    _started: bool
    _index: int
    _open: str | None

    def _start(self) -> None:
        self._started = True
        self._ev.extend(start_events(self.message_id, self.model, {
            "input_tokens": self.input_tokens, "output_tokens": 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}))

    def _begin(self, kind: str, block: dict[str, Any]) -> None:
        self._index += 1
        self._open = kind
        self._emit("content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block})

    def _emit(self, event_type: str, data: dict[str, Any]) -> None:
        self._ev.append((event_type, data))
