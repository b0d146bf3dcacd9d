"""A fake OpenAI Responses API (``POST /v1/responses``): the FakeOpenAI HTTP server with replies
built from finished output items, streamed as the API does (semantic ``event:`` + ``data:`` frames,
no ``[DONE]``), or answered as one JSON response object.

    fake.script(EventReply(stream_events([reasoning("plan", "enc-1"), message("hi")], usage(10, 2))))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply

__all__ = ["EventReply", "FakeOpenAI", "RecordedRequest", "function_call", "message", "reasoning", "response",
           "stream_events", "usage", "web_search_call", "wire"]


def usage(input_tokens: int, output_tokens: int, cached: int = 0, reasoning_tokens: int = 0) -> dict[str, Any]:
    return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens}


def reasoning(summary: str | list[str], encrypted: str | None, rid: str = "rs_1") -> dict[str, Any]:
    parts = [summary] if isinstance(summary, str) else summary
    item: dict[str, Any] = {"type": "reasoning", "id": rid, "summary": [{"type": "summary_text", "text": t}
                                                                        for t in parts if t]}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def message(text: str, annotations: list[dict] | None = None, mid: str = "msg_1", refusal: bool = False) -> dict:
    part = ({"type": "refusal", "refusal": text} if refusal
            else {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []})
    return {"type": "message", "id": mid, "status": "completed", "role": "assistant", "content": [part]}


def function_call(name: str, arguments: str, call_id: str, fid: str = "fc_1") -> dict[str, Any]:
    return {"type": "function_call", "id": fid, "call_id": call_id, "name": name, "arguments": arguments,
            "status": "completed"}


def web_search_call(query: str, wid: str = "ws_1") -> dict[str, Any]:
    return {"type": "web_search_call", "id": wid, "status": "completed", "action": {"type": "search", "query": query}}


def response(output: list[dict], use: dict | None, status: str = "completed", reason: str | None = None,
             model: str = "gpt-5-fake") -> dict[str, Any]:
    return {"id": "resp_fake", "object": "response", "created_at": 1, "model": model, "status": status,
            "output": output, "usage": use, "error": None,
            "incomplete_details": {"reason": reason} if reason else None}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def stream_events(output: list[dict], use: dict | None, *, status: str = "completed", reason: str | None = None,
                  piece: int = 7, args_in_deltas: bool = True) -> list[dict[str, Any]]:
    """The event sequence the API streams for a response with these finished output items."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **data: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **data})

    shell = response([], None, "in_progress")
    emit("response.created", response=shell)
    emit("response.in_progress", response=shell)
    for n, item in enumerate(output):
        ids = {"item_id": item.get("id", ""), "output_index": n}
        kind = item["type"]
        empty = {**item, "summary": []} if kind == "reasoning" else {**item, "content": []} if kind == "message" else (
            {**item, "arguments": "", "status": "in_progress"} if kind == "function_call" else item)
        empty.pop("encrypted_content", None)
        emit("response.output_item.added", output_index=n, item=empty)
        if kind == "reasoning":
            for s, part in enumerate(item["summary"]):
                emit("response.reasoning_summary_part.added", **ids, summary_index=s, part={**part, "text": ""})
                for delta in _pieces(part["text"], piece):
                    emit("response.reasoning_summary_text.delta", **ids, summary_index=s, delta=delta)
                emit("response.reasoning_summary_text.done", **ids, summary_index=s, text=part["text"])
                emit("response.reasoning_summary_part.done", **ids, summary_index=s, part=part)
        elif kind == "message":
            for c, part in enumerate(item["content"]):
                key = "text" if part["type"] == "output_text" else "refusal"
                emit("response.content_part.added", **ids, content_index=c, part={**part, key: "", "annotations": []})
                for delta in _pieces(part[key], piece):
                    emit("response.output_text.delta" if key == "text" else "response.refusal.delta",
                         **ids, content_index=c, delta=delta)
                for a, annotation in enumerate(part.get("annotations") or []):
                    emit("response.output_text.annotation.added", **ids, content_index=c, annotation_index=a,
                         annotation=annotation)
                emit("response.output_text.done" if key == "text" else "response.refusal.done",
                     **ids, content_index=c, **{key: part[key]})
                emit("response.content_part.done", **ids, content_index=c, part=part)
        elif kind == "function_call":
            if args_in_deltas:
                for delta in _pieces(item["arguments"], piece):
                    emit("response.function_call_arguments.delta", **ids, delta=delta)
            emit("response.function_call_arguments.done", **ids, arguments=item["arguments"])
        emit("response.output_item.done", output_index=n, item=item)
    final = response(output, use, status, reason)
    emit({"completed": "response.completed", "incomplete": "response.incomplete"}.get(status, "response.failed"),
         response=final)
    return events


def wire(events: list[dict[str, Any]], crlf: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    return "".join(f"event: {e['type']}{nl}data: {json.dumps(e, ensure_ascii=False)}{nl}{nl}" for e in events).encode()


@dataclass
class EventReply(Reply):
    """A Responses stream reply: ``event:``/``data:`` frames, no ``[DONE]``."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chunks = []  # marks the reply as SSE for the server

    def payload(self) -> bytes:
        return wire(self.events, self.crlf)
