"""OpenAI Responses stream events → the Anthropic event sequence (pure state machine).

The Responses stream is semantic: items (reasoning, message, function_call, web_search_call)
are announced by ``response.output_item.added``, filled by deltas and closed by
``response.output_item.done``; ``response.completed`` / ``response.incomplete`` end it, and
``response.failed`` / ``error`` are typed errors. The same invariants as the Chat stream hold: one
``message_start``, contiguous blocks with one open at a time, deltas of the open block's type,
``message_delta`` then ``message_stop`` last. A reasoning block's signature (the encrypted
reasoning) is only known at its ``output_item.done``: it goes out as the block's last delta.
A web search answer's text is held until the end, like the Chat path, for its citations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import UpstreamUnavailable
from ..blocks import BlockWriter, Event, block_events, new_message_id
from ..toolcheck import ToolCheck
from .response import REFUSAL_NOTE, InvalidToolArguments, parse_arguments, repair_json, tool_id
from .responses_response import (
    REASONING_PREFIX,
    encode_reasoning,
    reasoning_block,
    responses_error,
    responses_stop,
    responses_usage,
    search_query,
    url_citation,
)
from .websearch import SearchStream

_THINKING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")
_ENDS = ("response.completed", "response.incomplete")


class ResponsesStreamTranslator(BlockWriter):
    def __init__(
        self, model: str, *, names: Mapping[str, str] | None = None, input_tokens: int = 0, provider: str = "",
        note: Callable[[str], None] | None = None, search: SearchStream | None = None,
        check: ToolCheck | None = None,
    ) -> None:
        self.model = model
        self._check = check  # tool calls validated against the request's schemas at their block end
        self.names = dict(names or {})
        self.input_tokens = input_tokens
        self.provider = provider
        self.note = note or (lambda _text: None)
        self.message_id = new_message_id()
        self._search = search
        self._ev: list[Event] = []
        self._started = False
        self._done = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._thinking_sep = False  # a new summary part starts: separate it from the last one
        self._args: list[str] = []  # the open tool call's arguments so far
        self._tool = ""  # the open tool call's name
        self._waiting: dict[Any, dict[str, Any]] = {}  # output_index → a call announced while another streamed
        self._item_text = False  # the current message item sent text as deltas
        self._part_offset = 0  # where the current output_text part starts in a held search answer
        self._refused = False
        self._had_tool = False
        self._out_chars = 0

    # -- driver interface --------------------------------------------------------------------
    def feed(self, event: dict[str, Any]) -> list[Event]:
        if self._done or not isinstance(event, dict):
            return []
        self._ev = []
        kind = str(event.get("type") or "")
        if kind == "error":
            raise responses_error(event, self.provider)
        if kind == "response.failed":
            raise responses_error((event.get("response") or {}).get("error"), self.provider)
        if not self._started:
            self._start()
        if kind == "response.output_item.added":
            self._item_added(event.get("item") or {}, event.get("output_index"))
        elif kind in _THINKING_DELTAS:
            self._thinking(str(event.get("delta") or ""))
        elif kind == "response.reasoning_summary_part.added":
            self._thinking_sep = self._open == "thinking"
        elif kind == "response.content_part.added" and self._search is not None:
            self._part_offset = sum(len(t) for t in self._search.text)
        elif kind == "response.output_text.delta":
            self._text(str(event.get("delta") or ""))
        elif kind == "response.output_text.annotation.added" and self._search is not None:
            if (cited := url_citation(event.get("annotation"), self._part_offset)) is not None:
                self._search.cited.append(cited)
        elif kind == "response.refusal.delta":
            self._refusal()
            self._text(str(event.get("delta") or ""), held=False)
        elif kind == "response.function_call_arguments.delta":
            if (waiting := self._waiting.get(event.get("output_index"))) is not None:
                waiting["args"].append(str(event.get("delta") or ""))
            elif self._open == "tool":
                self._arguments(str(event.get("delta") or ""))
        elif kind == "response.function_call_arguments.done":
            if (waiting := self._waiting.get(event.get("output_index"))) is not None:
                waiting["args"] = [str(event.get("arguments") or "")]
            elif self._open == "tool" and not self._args:
                self._arguments(str(event.get("arguments") or ""), whole=True)
        elif kind == "response.output_item.done":
            self._item_done(event.get("item") or {}, event.get("output_index"))
        elif kind in _ENDS:
            self._end(event.get("response") or {})
        return self._ev

    def finish(self) -> list[Event]:
        if self._done:
            return []
        if not self._started:
            raise UpstreamUnavailable("upstream stream ended without sending anything")
        raise UpstreamUnavailable("upstream stream ended before response.completed (connection cut short?)")

    # -- items -------------------------------------------------------------------------------
    def _item_added(self, item: Mapping[str, Any], at: Any) -> None:
        kind = item.get("type")
        if kind == "function_call" and self._open == "tool" and at is not None:
            self._waiting[at] = {"item": dict(item), "args": [], "done": False}  # parallel: goes out after
        elif kind == "function_call":
            self._leave()
            name = str(item.get("name") or "") or "unknown_tool"
            self._tool = self.names.get(name, name)
            self._begin("tool", {"type": "tool_use", "id": tool_id(item.get("call_id") or item.get("id")),
                                 "name": self._tool, "input": {}})
            self._args = []
        elif kind in ("reasoning", "message"):
            self._leave()
            self._item_text = False

    def _item_done(self, item: Mapping[str, Any], at: Any) -> None:
        kind = item.get("type")
        if kind == "function_call" and at in self._waiting:
            waiting = self._waiting[at]
            waiting["item"].update(item)
            waiting["done"] = True
            if self._open != "tool":
                self._flush_waiting()
            return
        if kind == "reasoning":
            if self._open == "thinking":
                signature = encode_reasoning(item) if isinstance(item.get("encrypted_content"), str) else REASONING_PREFIX
                self._delta({"type": "signature_delta", "signature": signature})
                self._close()
            elif (block := reasoning_block(item)) is not None:  # no summary deltas came: the item whole
                self._leave()
                self._whole(block)
        elif kind == "function_call":
            if self._open == "tool":
                if not self._args and item.get("arguments"):
                    self._arguments(str(item["arguments"]), whole=True)
                self._close_tool()
                self._flush_waiting(finished_only=True)
            else:  # announced only now: one whole block
                self._leave()
                self._whole_call(item, None)
        elif kind == "message":
            if not self._item_text:  # servers that send the text only with the finished item
                for part in item.get("content") or []:
                    if isinstance(part, dict) and part.get("type") in ("output_text", "refusal"):
                        if part["type"] == "refusal":
                            self._refusal()
                        self._text(str(part.get("text") or part.get("refusal") or ""), annotations=part)
            elif self._search is not None and not self._search.cited:
                offset = 0
                for part in item.get("content") or []:
                    if isinstance(part, dict):
                        self._search.cited.extend(c for a in part.get("annotations") or []
                                                  if (c := url_citation(a, offset)))
                        offset += len(str(part.get("text") or ""))
            if self._open == "text":
                self._close()
        elif kind == "web_search_call" and self._search is not None:
            self._search.query = search_query(item) or self._search.query

    def _whole_call(self, item: Mapping[str, Any], args: str | None) -> None:
        name = str(item.get("name") or "") or "unknown_tool"
        name = self.names.get(name, name)
        value, repaired = parse_arguments(args if args else item.get("arguments"), name)
        if repaired:
            self.note(f"repaired invalid JSON arguments of {name}")
        if self._check is not None:
            value = self._check.check(name, value)
        self._whole({"type": "tool_use", "id": tool_id(item.get("call_id") or item.get("id")), "name": name,
                     "input": value})
        self._had_tool = True

    def _flush_waiting(self, finished_only: bool = False) -> None:
        """Calls announced while another streamed, one whole block each, in upstream order."""
        for at in list(self._waiting):  # announcement order
            waiting = self._waiting[at]
            if finished_only and not waiting["done"]:
                continue
            self._leave()
            self._whole_call(waiting["item"], "".join(waiting["args"]))
            del self._waiting[at]

    def _thinking(self, text: str) -> None:
        if not text:
            return
        if self._open != "thinking":
            self._leave()
            self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        elif self._thinking_sep:
            text = "\n\n" + text
        self._thinking_sep = False
        self._out_chars += len(text)
        self._delta({"type": "thinking_delta", "thinking": text})

    def _refusal(self) -> None:
        """The model's own refusal: text that ends the turn normally (noted once), not a policy stop."""
        if not self._refused:
            self.note(REFUSAL_NOTE)
        self._refused = True

    def _text(self, text: str, *, held: bool = True, annotations: Mapping[str, Any] | None = None) -> None:
        if not text:
            return
        self._item_text = annotations is None
        self._out_chars += len(text)
        if held and self._search is not None:
            offset = sum(len(t) for t in self._search.text)
            if annotations is not None:
                self._search.cited.extend(c for a in annotations.get("annotations") or []
                                          if (c := url_citation(a, offset)))
            self._search.text.append(text)
            return
        if self._open != "text":
            self._leave()
            self._begin("text", {"type": "text", "text": ""})
        self._delta({"type": "text_delta", "text": text})

    def _arguments(self, piece: str, *, whole: bool = False) -> None:
        if not piece:
            return
        if whole:  # arguments only at the end (no deltas): repair them before they go out
            name = self._tool
            value, repaired = parse_arguments(piece, name)
            if repaired:
                self.note(f"repaired invalid JSON arguments of {name}")
            try:
                exact = json.loads(piece) == value
            except ValueError:
                exact = False
            piece = piece if exact else json.dumps(value, ensure_ascii=False)
        self._args.append(piece)
        self._out_chars += len(piece)
        self._delta({"type": "input_json_delta", "partial_json": piece})

    def _close_tool(self) -> None:
        raw = "".join(self._args)
        name = self._tool
        if not raw.strip():
            self._delta({"type": "input_json_delta", "partial_json": "{}"})
            raw = "{}"
        else:
            try:
                value = json.loads(raw)
            except ValueError:
                fixed = repair_json(raw)
                if fixed is None or not fixed.startswith(raw) or not isinstance(json.loads(fixed), dict):
                    raise InvalidToolArguments(
                        f"the model streamed tool arguments for {name} that are not valid JSON: {raw[:200]!r}"
                    ) from None
                self.note(f"closed truncated JSON arguments of {name}")
                self._delta({"type": "input_json_delta", "partial_json": fixed[len(raw):]})
                raw = fixed
            else:
                if not isinstance(value, dict):
                    raise InvalidToolArguments(f"the model streamed tool arguments for {name} that are not an object")
        if self._check is not None:  # already sent piece by piece: checked, not repairable
            self._check.check(name, json.loads(raw), repairable=False)
        self._args = []
        self._had_tool = True
        self._close()

    # -- blocks and message ------------------------------------------------------------------
    def _whole(self, block: dict[str, Any]) -> None:
        self._index += 1
        self._ev.extend(block_events(self._index, block))

    def _delta(self, delta: dict[str, Any]) -> None:
        self._emit("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self) -> None:
        self._emit("content_block_stop", {"type": "content_block_stop", "index": self._index})
        self._open = None

    def _leave(self) -> None:
        """Close whatever block is open (an item that ended without its done event)."""
        if self._open == "tool":
            self._close_tool()
        elif self._open == "thinking":
            self._delta({"type": "signature_delta", "signature": REASONING_PREFIX})
            self._close()
        elif self._open is not None:
            self._close()

    def _end(self, response: Mapping[str, Any]) -> None:
        self._leave()
        self._flush_waiting()
        if isinstance(response.get("usage"), dict):
            usage: dict[str, Any] = responses_usage(response["usage"])
        else:
            usage = {"input_tokens": self.input_tokens, "output_tokens": (self._out_chars + 3) // 4,
                     "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
            self.note("no usage reported upstream: output tokens estimated")
        if self._search is not None:
            for block in self._search.blocks():
                self._whole(block)
            usage["server_tool_use"] = {"web_search_requests": 1}
        reason = responses_stop(response, has_tool_use=self._had_tool)
        self._emit("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                                     "usage": usage})
        self._emit("message_stop", {"type": "message_stop"})
        self._done = True
