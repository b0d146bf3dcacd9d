"""A fake Anthropic Messages API upstream: records what arrives, answers from a script.

Each scripted reply is a :class:`Reply`: text (streamed as real Anthropic SSE, with ``ping``),
tool calls, an error status/body, or raw SSE bytes for misbehaviour tests.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, Response, request


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


@dataclass
class Reply:
    text: str = "Hello from the fake upstream."
    tool_use: dict[str, Any] | None = None  # {"id", "name", "input"}
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_stream: list[bytes] | None = None  # sent as-is (chunk by chunk)
    chunk_delay: float = 0.0
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 12, "output_tokens": 7})


class FakeAnthropic:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self.app = self._build()

    def next_reply(self) -> Reply:
        return self.script.pop(0) if self.script else self.default

    def message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        if reply.tool_use:
            content.append({"type": "tool_use", **reply.tool_use})
        return {
            "id": "msg_fake01", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": content, "stop_reason": "tool_use" if reply.tool_use else "end_turn",
            "stop_sequence": None, "usage": reply.usage,
        }

    def events(self, body: dict[str, Any], reply: Reply) -> list[bytes]:
        message = self.message(body, reply)
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**reply.usage, "output_tokens": 1}}  # as Anthropic: cache counts come here
        out = [sse("message_start", {"type": "message_start", "message": start}), sse("ping", {"type": "ping"})]
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                out.append(sse("content_block_start", {"type": "content_block_start", "index": index,
                                                       "content_block": {"type": "text", "text": ""}}))
                words = block["text"].split(" ")
                for i, word in enumerate(words):
                    piece = word if i == len(words) - 1 else word + " "
                    out.append(sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                           "delta": {"type": "text_delta", "text": piece}}))
            else:
                out.append(sse("content_block_start", {"type": "content_block_start", "index": index,
                                                       "content_block": {**block, "input": {}}}))
                out.append(sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": json.dumps(block["input"])}}))
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        out.append(sse("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                         "usage": {"output_tokens": reply.usage["output_tokens"]}}))
        out.append(sse("message_stop", {"type": "message_stop"}))
        return out

    def _build(self) -> Quart:
        app = Quart("fake_anthropic")
        app.config["RESPONSE_TIMEOUT"] = None

        @app.route("/", methods=["HEAD", "GET"])
        async def probe() -> Response:
            return Response("", 200)

        @app.post("/v1/messages")
        async def messages() -> Response:
            body = await request.get_json(force=True)
            self.requests.append({"path": request.full_path, "headers": {k.lower(): v for k, v in request.headers.items()}, "body": body})
            reply = self.next_reply()
            if reply.status != 200:
                payload = reply.error_body or {"type": "error", "error": {"type": "api_error", "message": "boom"}}
                return Response(json.dumps(payload), reply.status, headers=reply.headers,
                                content_type="application/json")
            if not body.get("stream"):
                return Response(json.dumps(self.message(body, reply)), 200, content_type="application/json",
                                headers={"request-id": "req_fake", **reply.headers})
            chunks = reply.raw_stream if reply.raw_stream is not None else self.events(body, reply)

            async def generate():  # type: ignore[no-untyped-def]
                for chunk in chunks:
                    if reply.chunk_delay:
                        await asyncio.sleep(reply.chunk_delay)
                    yield chunk

            response = Response(generate(), 200, content_type="text/event-stream",
                                headers={"request-id": "req_fake", **reply.headers})
            response.timeout = None
            return response

        return app
