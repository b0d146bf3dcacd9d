"""A fake Gemini API upstream: records every request (path, query, headers, JSON), answers from a script.

A :class:`GeminiReply` holds the ``GenerateContentResponse`` chunks of an answer: streamed as
``data: {chunk}`` SSE frames (no ``[DONE]``, like Gemini), merged into one response for
``:generateContent``. Errors, raw bytes (cut streams, CRLF) and a per-request handler are
available for misbehaviour and tool-loop tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, Response, request


def text_part(text: str, *, thought: bool = False, signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    if signature:
        part["thoughtSignature"] = signature
    return part


def call_part(name: str, args: dict[str, Any], signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    if signature:
        part["thoughtSignature"] = signature
    return part


def usage(prompt: int = 20, candidates: int = 5, thoughts: int = 0, cached: int = 0) -> dict[str, int]:
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + thoughts}
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    if cached:
        meta["cachedContentTokenCount"] = cached
    return meta


def chunk(parts: list[dict[str, Any]], finish: str | None = None, meta: dict[str, int] | None = None,
          **candidate: Any) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0, **candidate}
    if finish:
        cand["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-fake"}
    if meta:
        out["usageMetadata"] = meta
    return out


def merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``:generateContent`` returns for the same answer: parts joined, last metadata wins."""
    parts: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    candidate: dict[str, Any] = {}
    for item in chunks:
        for key, value in item.items():
            if key != "candidates":
                out[key] = value
        for cand in item.get("candidates") or []:
            for part in (cand.get("content") or {}).get("parts") or []:
                last = parts[-1] if parts else None
                if (last is not None and "text" in part and "text" in last
                        and bool(last.get("thought")) == bool(part.get("thought"))
                        and "thoughtSignature" not in last and "thoughtSignature" not in part):
                    last["text"] += part["text"]
                else:  # a signed part stays its own part (Gemini 3 signs text parts too)
                    parts.append(dict(part))
            candidate.update({k: v for k, v in cand.items() if k != "content"})
    if candidate or parts:
        out["candidates"] = [{**candidate, "content": {"role": "model", "parts": parts}}]
    return out


@dataclass
class GeminiReply:
    chunks: list[dict[str, Any]] = field(
        default_factory=lambda: [chunk([text_part("Hello from ")]),
                                 chunk([text_part("fake Gemini.")], "STOP", usage())])
    status: int = 200
    error: dict[str, Any] | None = None  # Gemini error body for status >= 400
    headers: dict[str, str] = field(default_factory=dict)
    raw_stream: list[bytes] | None = None  # sent as-is, chunk by chunk
    chunk_delay: float = 0.0
    crlf: bool = False


@dataclass
class RecordedRequest:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def stream(self) -> bool:
        return self.path.endswith(":streamGenerateContent")


class FakeGemini:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.script: list[GeminiReply] = []
        self.handler: Callable[[RecordedRequest], GeminiReply] | None = None
        self.default = GeminiReply()
        self.base_url = ""
        self.app = self._build()

    def next_reply(self, recorded: RecordedRequest) -> GeminiReply:
        if self.script:
            return self.script.pop(0)
        if self.handler is not None:
            return self.handler(recorded)
        return self.default

    def _build(self) -> Quart:
        app = Quart("fake_gemini")

        @app.post("/v1beta/<path:target>")
        async def generate(target: str) -> Response:
            raw = await request.get_data()
            recorded = RecordedRequest(
                path=request.path, query=request.query_string.decode(),
                headers={k.lower(): v for k, v in request.headers.items()}, body=json.loads(raw or b"{}"),
            )
            self.requests.append(recorded)
            reply = self.next_reply(recorded)
            if reply.status >= 400:
                body = reply.error or {"error": {"code": reply.status, "message": "fake error", "status": "INTERNAL"}}
                return Response(json.dumps(body), status=reply.status, headers=reply.headers,
                                content_type="application/json")
            if not recorded.stream:
                return Response(json.dumps(merge(reply.chunks)), headers=reply.headers,
                                content_type="application/json")
            newline = "\r\n" if reply.crlf else "\n"

            async def frames():  # type: ignore[no-untyped-def]
                items = reply.raw_stream if reply.raw_stream is not None else [
                    f"data: {json.dumps(c)}{newline}{newline}".encode() for c in reply.chunks]
                for item in items:
                    if reply.chunk_delay:
                        await asyncio.sleep(reply.chunk_delay)
                    yield item

            return Response(frames(), headers={**reply.headers, "cache-control": "no-cache"},
                            content_type="text/event-stream")

        return app
