"""OpenAI Chat Completions stream chunks → the Anthropic event sequence (pure state machine).

Invariants kept: one ``message_start`` (then ``ping``); block indices contiguous with exactly one
block open at a time; delta type matches the open block; ``message_delta`` then ``message_stop``
and nothing after. Tool calls are attributed by ``index`` (and id/name for servers that put every
call on index 0). The first call streams live; fragments of other calls are buffered and those
calls are emitted one after another, so interleaved upstream fragments never mix. Memory is the
open blocks: text is never accumulated, a tool call's arguments only until its block closes.
The exception is a web search answer (``search``): its text is held until the end, when the
late ``url_citation`` annotations are in, and goes out as whole cited blocks (websearch.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import UpstreamUnavailable
from ..blocks import BlockWriter, Event, block_events, message_events, new_message_id
from ..toolcheck import ToolCheck
from .presets import THINKING_SIGNATURE
from .response import (
    REFUSAL_NOTE,
    InvalidToolArguments,
    content_pieces,
    map_usage,
    matched_stop,
    parse_arguments,
    reasoning_of,
    repair_json,
    stop_reason,
    tool_id,
)
from .think_tags import ThinkTagSplitter
from .websearch import SearchStream

__all__ = ["Event", "OpenAIStreamTranslator", "block_events", "message_events"]


@dataclass(slots=True)
class _Call:
    order: int
    id: str = ""
    name: str = ""
    args: list[str] = field(default_factory=list)
    started: bool = False
    closed: bool = False
    streaming: bool = False  # live from its first fragment: arguments go out as they come

    @property
    def has_args(self) -> bool:
        return any(piece.strip() for piece in self.args)


def _complete(call: _Call) -> bool:
    raw = "".join(call.args).rstrip()
    if not raw.endswith("}"):
        return False
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


class OpenAIStreamTranslator(BlockWriter):
    def __init__(
        self,
        model: str,
        *,
        names: Mapping[str, str] | None = None,
        stop_sequences: list[str] | None = None,
        input_tokens: int = 0,
        note: Callable[[str], None] | None = None,
        think_tags: bool = False,
        search: SearchStream | None = None,
        check: ToolCheck | None = None,
    ) -> None:
        self.model = model
        self.names = dict(names or {})
        self.stop_sequences = list(stop_sequences or [])
        self.input_tokens = input_tokens
        self.note = note or (lambda _text: None)
        self.message_id = new_message_id()
        self._tags = ThinkTagSplitter() if think_tags else None
        self._search = search  # a web search answer: text held until the annotations are in
        self._check = check  # tool calls validated against the request's schemas at their block end
        self._ev: list[Event] = []
        self._started = False
        self._done = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._by_id: dict[str, _Call] = {}
        self._live: _Call | None = None
        self._finish: str | None = None
        self._stop_seq: str | None = None
        self._usage: dict[str, Any] | None = None
        self._refused = False
        self._had_tool = False
        self._out_chars = 0

    # -- driver interface --------------------------------------------------------------------
    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if self._done or not isinstance(chunk, dict):
            return []
        self._ev = []
        if not self._started:
            self._start()
        usage = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")
        if isinstance(usage, dict):
            self._usage = usage  # cumulative where repeated: the last one wins, never summed
        choices = [c for c in chunk.get("choices") or [] if isinstance(c, dict)]
        choice = next((c for c in choices if c.get("index", 0) == 0), None)
        if choice is not None:
            self._choice(choice)
        elif self._finish is not None and self._usage is not None:
            self._end()  # the include_usage chunk after the finish chunk
        return self._ev

    def finish(self) -> list[Event]:
        if self._done:
            return []
        self._ev = []
        if not self._started:
            raise UpstreamUnavailable("upstream stream ended without sending anything")
        if self._finish is None:
            raise UpstreamUnavailable("upstream stream ended before finish_reason (connection cut short?)")
        self._end()
        return self._ev

    # -- chunk handling ----------------------------------------------------------------------
    def _choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        if self._search is not None:
            self._search.feed(delta)
        reasoning = reasoning_of(delta)
        if reasoning:
            self._append("thinking", {"type": "thinking", "thinking": "", "signature": ""},
                         {"type": "thinking_delta", "thinking": reasoning})
        for kind, text in content_pieces(delta.get("content")):
            self._content(self._tags.feed(text) if self._tags and kind == "text" else [(kind, text)])
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            if not self._refused:
                self.note(REFUSAL_NOTE)
            self._refused = True
            self._append("text", {"type": "text", "text": ""}, {"type": "text_delta", "text": refusal})
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    self._tool(call)
        elif isinstance(delta.get("function_call"), dict):
            self._tool({"index": 0, "function": delta["function_call"]})
        finish = choice.get("finish_reason")
        if finish is not None and self._finish is None:
            if self._tags:
                self._content(self._tags.flush())
            self._finish = str(finish)
            self._stop_seq = matched_stop(choice, self.stop_sequences)
            self._close_all()

    def _content(self, pieces: list[tuple[str, str]]) -> None:
        for kind, text in pieces:
            if kind == "thinking":
                self._append("thinking", {"type": "thinking", "thinking": "", "signature": ""},
                             {"type": "thinking_delta", "thinking": text})
            elif self._search is not None:
                self._search.text.append(text)
                self._out_chars += len(text)
            else:
                self._append("text", {"type": "text", "text": ""}, {"type": "text_delta", "text": text})

    def _append(self, kind: str, empty: dict[str, Any], delta: dict[str, Any]) -> None:
        if self._open != kind:
            self._leave()
            self._begin(kind, empty)
        self._out_chars += len(delta.get("text") or delta.get("thinking") or "")
        self._emit("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    # -- tool calls --------------------------------------------------------------------------
    def _tool(self, fragment: dict[str, Any]) -> None:
        call = self._resolve(fragment)
        args = (fragment.get("function") or {}).get("arguments")
        piece = json.dumps(args) if isinstance(args, dict) else args if isinstance(args, str) else ""
        if call.closed:
            if piece.strip():
                self.note("dropped a tool-argument fragment that arrived after its call was closed")
            return
        if piece:
            call.args.append(piece)
            self._out_chars += len(piece)
        if call is self._live:
            if call.started:
                if piece:
                    self._delta_json(piece)
            else:
                self._try_start(call)
        elif self._live is None:
            self._promote(first=call)
        elif _complete(self._live):
            self._close_live()
            self._promote()

    def _resolve(self, fragment: dict[str, Any]) -> _Call:
        fn = fragment.get("function") or {}
        tid = fragment.get("id") if isinstance(fragment.get("id"), str) else ""
        name = fn.get("name") if isinstance(fn.get("name"), str) else ""
        index = fragment.get("index") if isinstance(fragment.get("index"), int) else None
        call = self._by_id.get(tid) if tid else None
        if call is None:
            cur = self._by_index.get(index) if index is not None else (self._calls[-1] if self._calls else None)
            args = fn.get("arguments")
            new = (
                cur is None
                or bool(tid and cur.id and tid != cur.id)
                or bool((tid or name) and cur.closed)
                or bool(not tid and name and cur.has_args and (name != cur.name or (args and _complete(cur))))
            )
            if new:
                call = _Call(order=len(self._calls))
                self._calls.append(call)
            else:
                call = cur
            if index is not None:
                self._by_index[index] = call
        if tid and not call.id:
            call.id = tid
            self._by_id[tid] = call
        if name and name != call.name and not call.started:
            call.name = name if not call.name or call.has_args else call.name + name  # names split in pieces
        return call

    def _try_start(self, call: _Call, force: bool = False) -> None:
        if call.started or not (call.name and ((call.has_args and call.streaming) or force)):
            return
        if self._open is not None:
            self._leave()
        call.started = True
        call.id = tool_id(call.id)
        self._begin("tool", {"type": "tool_use", "id": call.id, "name": self.names.get(call.name, call.name), "input": {}})
        if call.args:
            self._delta_json("".join(call.args))

    def _promote(self, first: _Call | None = None) -> None:
        """Make the earliest unfinished call the current one. Only a call that is current from its
        first fragment streams; one that was buffered waits for its end (so it can be repaired)."""
        nxt = next((c for c in self._calls if not c.closed), None)
        if nxt is None:
            return
        self._live = nxt
        nxt.streaming = nxt is first
        self._try_start(nxt)

    def _close_live(self) -> None:
        call, self._live = self._live, None
        if call is None:
            return
        name = self.names.get(call.name, call.name)
        raw = "".join(call.args)
        if call.started:
            if not raw.strip():
                self._delta_json("{}")
                raw = "{}"
            else:
                raw += self._check_streamed(raw, name)
            if self._check is not None:  # already sent piece by piece: checked, not repairable
                self._check.check(name, json.loads(raw), repairable=False)
        else:
            if not call.name:
                call.name = "unknown_tool"
                self.note("a tool call arrived without a name")
            value, repaired = parse_arguments(raw, name)
            parsed = value
            if self._check is not None:
                value = self._check.check(name, value)
            call.args = []
            self._try_start(call, force=True)
            exact = not repaired and value is parsed and raw.strip() and json.loads(raw) == value
            if repaired:
                self.note(f"repaired invalid JSON arguments of {name}")
            self._delta_json(raw if exact else json.dumps(value, ensure_ascii=False))
        call.closed, call.args = True, []
        self._had_tool = True
        self._emit("content_block_stop", {"type": "content_block_stop", "index": self._index})
        self._open = None

    def _check_streamed(self, raw: str, name: str) -> str:
        """Arguments already sent piece by piece: only an appended suffix (returned) can still repair them."""
        try:
            value = json.loads(raw)
        except ValueError:
            fixed = repair_json(raw)
            if fixed is not None and fixed.startswith(raw) and isinstance(json.loads(fixed), dict):
                self.note(f"closed truncated JSON arguments of {name}")
                self._delta_json(fixed[len(raw):])
                return fixed[len(raw):]
            raise InvalidToolArguments(
                f"the model streamed tool arguments for {name} that are not valid JSON: {raw[:200]!r}"
            ) from None
        if not isinstance(value, dict):
            raise InvalidToolArguments(f"the model streamed tool arguments for {name} that are not an object")
        return ""

    def _delta_json(self, text: str) -> None:
        self._emit("content_block_delta", {
            "type": "content_block_delta", "index": self._index,
            "delta": {"type": "input_json_delta", "partial_json": text},
        })

    # -- blocks and message ------------------------------------------------------------------
    def _leave(self) -> None:
        """Close the open block (a tool block closes through its call's checks)."""
        if self._open == "tool":
            self._close_live()
            return
        if self._open == "thinking":
            self._emit("content_block_delta", {"type": "content_block_delta", "index": self._index,
                                               "delta": {"type": "signature_delta", "signature": THINKING_SIGNATURE}})
        if self._open is not None:
            self._emit("content_block_stop", {"type": "content_block_stop", "index": self._index})
            self._open = None

    def _close_all(self) -> None:
        self._leave()
        if self._live is not None:  # live but never started (no arguments yet)
            self._close_live()
        for _ in range(len(self._calls)):
            self._promote()
            if self._live is None:
                break
            self._close_live()

    def _end(self) -> None:
        self._close_all()
        if self._usage is not None:
            usage: dict[str, Any] = map_usage(self._usage)
        else:
            usage = {"input_tokens": self.input_tokens, "output_tokens": (self._out_chars + 3) // 4,
                     "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
            self.note("no usage reported upstream: output tokens estimated")
        if self._search is not None:
            for block in self._search.blocks():
                self._index += 1
                self._ev.extend(block_events(self._index, block))
            usage["server_tool_use"] = {"web_search_requests": 1}
        reason = stop_reason(self._finish, has_tool_use=self._had_tool)
        sequence = self._stop_seq if reason == "end_turn" else None
        self._emit("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": "stop_sequence" if sequence else reason, "stop_sequence": sequence},
            "usage": usage,
        })
        self._emit("message_stop", {"type": "message_stop"})
        self._done = True
