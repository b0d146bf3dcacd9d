"""Gemini ``streamGenerateContent?alt=sse`` chunks → Anthropic stream events (pure state machine).

Each chunk is a whole ``GenerateContentResponse`` holding new parts. Blocks open and close in
arrival order, one at a time: thought parts → a thinking block (closed with a ``gemini:``
``signature_delta``), text → a text block, each function call → a tool_use block with one
``input_json_delta`` holding the whole JSON. Function calls streamed in pieces (Vertex
``willContinue`` / ``partialArgs``) are assembled and emitted when the empty closing call
arrives. Gemini SSE has no ``[DONE]``: the message ends in :meth:`finish`, and a stream that never
gave a ``finishReason`` (nor a prompt block) is an error, not a short answer.

Grounded (web search) answers are the one exception to streaming: sources and citations arrive
after the text, so the parts are collected and emitted as whole blocks at the end (these answers
are short summaries; memory is bounded by that answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ...errors import UpstreamUnavailable
from ..blocks import Event, block_events, new_message_id, start_events
from ..toolcheck import ToolCheck
from .grounding import grounding_blocks
from .response import (
    content_blocks,
    gemini_call_id,
    make_tool_id,
    stop_reason_for,
    thinking_signature,
    usage_from,
)

_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]")


class GeminiStreamTranslator:
    def __init__(
        self, model: str, names: Mapping[str, str] | None = None, *, input_tokens: int = 0, grounding: bool = False,
        check: ToolCheck | None = None,
    ) -> None:
        self.model = model
        self.names = dict(names or {})
        self.grounding = grounding
        self.check = check  # each call validated (and repaired) before it goes out whole
        self.started = False
        self.index = -1  # index of the last opened block
        self.open: str | None = None  # type of the open block
        self.thinking_signature: str | None = None
        self.saw_tool_use = False
        self.finish_reason: str | None = None
        self.blocked = False
        self.usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": 0,
                                      "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
        self.partial: dict[str, Any] | None = None  # a function call arriving in pieces
        self.collected: list[dict[str, Any]] = []  # grounding mode only
        self.grounding_metadata: dict[str, Any] | None = None

    # -- public ---------------------------------------------------------------------------------
    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        meta = chunk.get("usageMetadata")
        if isinstance(meta, dict) and any(k in meta for k in ("promptTokenCount", "candidatesTokenCount")):
            self.usage = usage_from(meta)
        if not self.started:
            events += self._start()
        candidates = chunk.get("candidates") or []
        if not candidates and (chunk.get("promptFeedback") or {}).get("blockReason"):
            self.blocked = True
        candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        for part in (candidate.get("content") or {}).get("parts") or []:
            if isinstance(part, dict):
                events += self._part(part)
        if isinstance(candidate.get("groundingMetadata"), dict):
            self.grounding_metadata = candidate["groundingMetadata"]
        if candidate.get("finishReason"):
            self.finish_reason = candidate["finishReason"]
        return events

    def finish(self) -> list[Event]:
        if not self.started:
            raise UpstreamUnavailable("Gemini stream ended before any chunk arrived")
        if self.finish_reason is None and not self.blocked:
            raise UpstreamUnavailable("Gemini stream ended without a finishReason (cut short)")
        events: list[Event] = []
        if self.partial is not None:
            events += self._emit_partial()
        if self.grounding:
            events += self._grounded_blocks()
        events += self._close()
        stop = stop_reason_for(self.finish_reason, has_tool_use=self.saw_tool_use, blocked=self.blocked)
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": dict(self.usage)}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    # -- blocks ---------------------------------------------------------------------------------
    def _start(self) -> list[Event]:
        self.started = True
        return start_events(new_message_id(), self.model, {**self.usage, "output_tokens": 0})

    def _open(self, kind: str, block: dict[str, Any]) -> list[Event]:
        events = self._close()
        self.index += 1
        self.open = kind
        return events + [("content_block_start",
                          {"type": "content_block_start", "index": self.index, "content_block": block})]

    def _close(self) -> list[Event]:
        if self.open is None:
            return []
        events: list[Event] = []
        if self.open == "thinking":
            events.append(self._delta({"type": "signature_delta",
                                       "signature": thinking_signature(self.thinking_signature)}))
            self.thinking_signature = None
        self.open = None
        return events + [("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def _delta(self, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta})

    def _part(self, part: dict[str, Any]) -> list[Event]:
        call = part.get("functionCall")
        if isinstance(call, dict):
            return self._function_call(call, part.get("thoughtSignature"))
        if self.grounding:
            self.collected.append(part)
            return []
        text = part.get("text")
        if not isinstance(text, str):
            return []  # inlineData, executableCode, ...: nothing Claude Code can show
        if part.get("thought"):
            events = [] if self.open == "thinking" else self._open(
                "thinking", {"type": "thinking", "thinking": "", "signature": ""})
            if part.get("thoughtSignature"):
                self.thinking_signature = part["thoughtSignature"]
            if text:
                events.append(self._delta({"type": "thinking_delta", "thinking": text}))
            return events
        events = []
        if part.get("thoughtSignature"):  # Gemini 3 signs text parts too (often an empty last one)
            if self.open != "thinking" or self.thinking_signature:
                events += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self.thinking_signature = part["thoughtSignature"]
        if not text:
            return events
        events += [] if self.open == "text" else self._open("text", {"type": "text", "text": ""})
        events.append(self._delta({"type": "text_delta", "text": text}))
        return events

    def _function_call(self, call: dict[str, Any], signature: str | None) -> list[Event]:
        """A call streamed in pieces starts with ``name`` + ``willContinue`` and ends only with a
        piece without ``willContinue`` (Vertex sends bare ``{willContinue: true}`` pieces between
        array elements: those do not end it)."""
        events: list[Event] = []
        if call.get("name") and call.get("willContinue"):
            if self.partial is not None:
                events += self._emit_partial()
            self.partial = {"name": call["name"], "args": dict(call.get("args") or {}), "signature": signature,
                            "id": gemini_call_id(call)}
            _apply_partial_args(self.partial["args"], call.get("partialArgs"))
            return events
        if self.partial is not None and not call.get("name"):
            _apply_partial_args(self.partial["args"], call.get("partialArgs"))
            if signature:
                self.partial["signature"] = signature
            if not call.get("willContinue"):
                events += self._emit_partial()
            return events
        if self.partial is not None:
            events += self._emit_partial()
        if not call.get("name"):
            return events  # a stray empty call: nothing to show
        args = call.get("args") if isinstance(call.get("args"), dict) else {}
        return events + self._tool_use(call["name"], args, signature, gemini_call_id(call))

    def _emit_partial(self) -> list[Event]:
        partial, self.partial = self.partial, None
        assert partial is not None
        return self._tool_use(partial["name"], partial["args"], partial["signature"], partial["id"])

    def _tool_use(self, name: str, args: dict[str, Any], signature: str | None, call_id: str | None) -> list[Event]:
        self.saw_tool_use = True
        if self.grounding:
            call: dict[str, Any] = {"name": name, "args": args, **({"id": call_id} if call_id else {})}
            self.collected.append({"functionCall": call, "thoughtSignature": signature})
            return []
        shown = self.names.get(name, name)
        if self.check is not None:
            args = self.check.check(shown, args)
        block = {"type": "tool_use", "id": make_tool_id(signature, call_id), "name": shown, "input": {}}
        events = self._open("tool_use", block)
        events.append(self._delta({"type": "input_json_delta",
                                   "partial_json": json.dumps(args, ensure_ascii=False, separators=(",", ":"))}))
        return events + self._close()

    def _grounded_blocks(self) -> list[Event]:
        blocks, searches = grounding_blocks(content_blocks(self.collected, self.names), self.grounding_metadata)
        if searches:
            self.usage["server_tool_use"] = {"web_search_requests": searches}
        events = self._close()
        for block in blocks:
            self.index += 1
            events += block_events(self.index, block)
        return events


def _apply_partial_args(args: dict[str, Any], pieces: Any) -> None:
    """Vertex ``partialArgs``: ``[{jsonPath: "$.a.b[0]", stringValue|numberValue|boolValue|nullValue}]``."""
    for piece in pieces or []:
        if not isinstance(piece, dict) or not isinstance(piece.get("jsonPath"), str):
            continue
        steps = [m[0] or (int(m[1]) if m[1] else m[2]) for m in _PATH_STEP.findall(piece["jsonPath"][1:])]
        if not steps:
            continue
        if "stringValue" in piece:
            value: Any = piece["stringValue"]
        elif "numberValue" in piece:
            value = piece["numberValue"]
        elif "boolValue" in piece:
            value = piece["boolValue"]
        else:
            value = None
        target: Any = args
        for step, following in zip(steps, steps[1:], strict=False):
            empty: Any = [] if isinstance(following, int) else {}
            if isinstance(target, list) and isinstance(step, int):
                while len(target) <= step:
                    target.append(None)
                if target[step] is None:
                    target[step] = empty
                target = target[step]
            elif isinstance(target, dict):
                target = target.setdefault(str(step), empty)
        last = steps[-1]
        if isinstance(target, list) and isinstance(last, int):
            while len(target) <= last:
                target.append(None)
            current = target[last]
            target[last] = current + value if isinstance(current, str) and isinstance(value, str) else value
        elif isinstance(target, dict):
            current = target.get(str(last))
            target[str(last)] = current + value if isinstance(current, str) and isinstance(value, str) else value
