"""A fake OpenAI-compatible server: real HTTP on 127.0.0.1, scripted answers, recorded requests.

    with FakeOpenAI() as fake:
        fake.script(Reply.sse([chunk, ...]), Reply.json({...}))
        ... point a provider at fake.base_url ...
        fake.requests[0].body  # the JSON the provider sent

It runs its own asyncio loop on a thread, so it serves sync and async tests, and a proxy
running on another thread alike. Replies are consumed in order; ``responder`` (a function of the
request) answers when the script is empty. SSE replies use chunked transfer encoding like real
servers, can be written in byte pieces of any size, with CRLF, comments, delays, or cut short.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON body (non-stream reply)
    chunks: list[Any] | None = None  # SSE: dict → ``data: {json}``; str → a raw line (": keepalive")
    raw: bytes | None = None  # exact body bytes (overrides body/chunks)
    headers: dict[str, str] = field(default_factory=dict)
    done: bool = True  # end an SSE reply with ``data: [DONE]``
    crlf: bool = False
    piece: int | list[int] | None = None  # write the body in pieces of this many bytes (list: cycled sizes)
    delay: float = 0.0  # seconds between pieces
    cut: bool = False  # drop the connection before the body is complete

    @classmethod
    def json(cls, body: Any, status: int = 200, **kw: Any) -> Reply:
        return cls(status=status, body=body, **kw)

    @classmethod
    def sse(cls, chunks: list[Any], **kw: Any) -> Reply:
        return cls(chunks=chunks, **kw)

    @classmethod
    def error(cls, status: int, message: str, *, code: Any = None, type: str = "invalid_request_error", **kw: Any) -> Reply:
        return cls(status=status, body={"error": {"message": message, "type": type, "param": None, "code": code}}, **kw)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.chunks is None:
            return json.dumps(self.body).encode()
        nl = "\r\n" if self.crlf else "\n"
        out = []
        for chunk in self.chunks:
            if isinstance(chunk, str):
                out.append(chunk + nl + (nl if not chunk.startswith(":") else ""))
            else:
                out.append("data: " + json.dumps(chunk, ensure_ascii=False) + nl + nl)
        if self.done:
            out.append("data: [DONE]" + nl + nl)
        return "".join(out).encode()

    def pieces(self) -> list[bytes]:
        data = self.payload()
        if not self.piece:
            return [data]
        sizes = self.piece if isinstance(self.piece, list) else [self.piece]
        out, i, k = [], 0, 0
        while i < len(data):
            size = max(1, sizes[k % len(sizes)])
            out.append(data[i:i + size])
            i, k = i + size, k + 1
        return out


class FakeOpenAI:
    def __init__(self, responder: Callable[[RecordedRequest], Reply] | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        self.responder = responder
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> FakeOpenAI:
        with self._lock:
            self._script.extend(replies)
        return self

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP --------------------------------------------------------------------------------
    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if self.responder is not None:
            return self.responder(request)
        return Reply.error(500, "fake OpenAI server: no scripted reply left", type="server_error")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = RecordedRequest(method, path, headers, body)
            with self._lock:
                self.requests.append(request)
            await self._reply(writer, self._next(request))
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _reply(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        is_sse = reply.chunks is not None
        ctype = "text/event-stream" if is_sse else "application/json"
        headers = {"content-type": ctype, "connection": "close", **reply.headers}
        if is_sse or reply.piece:
            headers["transfer-encoding"] = "chunked"
        else:
            headers["content-length"] = str(len(reply.payload()))
        status_line = f"HTTP/1.1 {reply.status} {'OK' if reply.status < 400 else 'Error'}\r\n"
        writer.write((status_line + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
        pieces = reply.pieces()
        if "transfer-encoding" not in headers:
            writer.write(b"".join(pieces))
            await writer.drain()
            return
        for i, piece in enumerate(pieces):
            if reply.cut and i == len(pieces) - 1 and len(pieces) > 1:
                break
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            if reply.delay:
                await asyncio.sleep(reply.delay)
        if not reply.cut:
            writer.write(b"0\r\n\r\n")
            await writer.drain()


# -- judging a translated stream ------------------------------------------------------------------
_DELTA_FOR = {"text": {"text_delta", "citations_delta"}, "thinking": {"thinking_delta", "signature_delta"},
              "tool_use": {"input_json_delta"}, "server_tool_use": {"input_json_delta"}, "web_search_tool_result": set()}


def assemble(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Check the Anthropic stream invariants Claude Code relies on and build the final message.

    One message_start first; event name == data.type; contiguous block indices, one open at a
    time, deltas matching the open block; message_delta then message_stop last.
    """
    assert events and events[0][0] == "message_start", events[:1]
    names = [name for name, _ in events]
    assert names.count("message_start") == 1
    assert names[-2:] == ["message_delta", "message_stop"], names[-3:]
    message = dict(events[0][1]["message"])
    content: list[dict[str, Any]] = []
    open_index: int | None = None
    partial = ""
    for name, data in events:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_index is None, "a block was opened while another is open"
            assert data["index"] == len(content), "block indices must be contiguous"
            open_index, partial = data["index"], ""
            content.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            assert data["index"] == open_index, "delta for a block that is not open"
            block, delta = content[open_index], data["delta"]
            assert delta["type"] in _DELTA_FOR[block["type"]], (block["type"], delta["type"])
            if delta["type"] == "text_delta":
                assert delta["text"], "empty text delta"
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] += delta["signature"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            else:
                partial += delta["partial_json"]
        elif name == "content_block_stop":
            assert data["index"] == open_index
            if content[open_index]["type"] in ("tool_use", "server_tool_use"):
                value = json.loads(partial) if partial else {}
                assert isinstance(value, dict), partial
                content[open_index]["input"] = value
            open_index = None
        elif name == "message_delta":
            assert open_index is None, "message_delta with a block still open"
            message.update(data["delta"])
            message["usage"] = {**message["usage"], **data["usage"]}
    message["content"] = content
    return message
