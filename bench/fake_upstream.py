"""A fast fake LLM upstream for the benchmark: raw asyncio HTTP/1.1 on loopback, keep-alive.

Speaks just enough of two APIs: Anthropic ``POST /v1/messages`` (JSON, or SSE when the body says
``"stream": true``) and OpenAI ``POST .../chat/completions`` (JSON or SSE chunks). The model name
carries the shape of the answer, so the same request works direct and through a proxy (which
forwards the model): ``bench-c<N>-d<MS>`` streams N text deltas with MS milliseconds between them
(default 8 and 0). Answers are pre-rendered per shape and cached.

Run: ``python bench/fake_upstream.py [--port 0]``; it prints ``PORT=<n>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import struct
import sys
from functools import lru_cache

SHAPE = re.compile(rb'"model"\s*:\s*"(bench-c(\d+)(?:-d(\d+))?)"')
STREAM = re.compile(rb'"stream"\s*:\s*true')
MAX_CHUNKS = 1_000_000
WRITE_BATCH = 32  # events per write() when there is no delay between them


def _shape(body: bytes) -> tuple[str, int, int]:
    m = SHAPE.search(body)
    if not m:
        return "bench", 8, 0
    n, d = min(int(m.group(2)), MAX_CHUNKS), min(int(m.group(3) or 0), 1000)
    return m.group(1).decode(), n, d


def _sse(event: str | None, data: dict) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@lru_cache(maxsize=64)
def anthropic_json(model: str, n: int) -> bytes:
    return json.dumps({
        "id": "msg_bench", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": "tok " * n}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": n},
    }).encode()


@lru_cache(maxsize=64)
def anthropic_events(model: str, n: int) -> tuple[bytes, ...]:
    start = {"id": "msg_bench", "type": "message", "role": "assistant", "model": model, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    out = [_sse("message_start", {"type": "message_start", "message": start}), _sse("ping", {"type": "ping"}),
           _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}})]
    delta = _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": "tok "}})
    out += [delta] * n
    out += [_sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                   "stop_sequence": None}, "usage": {"output_tokens": n}}),
            _sse("message_stop", {"type": "message_stop"})]
    return tuple(out)


@lru_cache(maxsize=64)
def openai_json(model: str, n: int) -> bytes:
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "tok " * n},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n},
    }).encode()


def openai_chunk(model: str, delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else []}
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def openai_chunks(model: str, n: int) -> list[dict]:
    """The chunk sequence a real server sends: role, N content deltas, finish, usage."""
    return ([openai_chunk(model, {"role": "assistant", "content": ""})]
            + [openai_chunk(model, {"content": "tok "})] * n
            + [openai_chunk(model, {}, "stop"),
               openai_chunk(model, {}, usage={"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n})])


@lru_cache(maxsize=64)
def openai_events(model: str, n: int) -> tuple[bytes, ...]:
    return tuple(_sse(None, c) for c in openai_chunks(model, n)) + (b"data: [DONE]\n\n",)


def _head(status: int, ctype: str, length: int | None) -> bytes:
    reason = {200: "OK", 404: "Not Found"}.get(status, "OK")
    size = f"content-length: {length}\r\n" if length is not None else "transfer-encoding: chunked\r\n"
    return f"HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\n{size}connection: keep-alive\r\n\r\n".encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _stream(writer: asyncio.StreamWriter, events: tuple[bytes, ...], delay_ms: int) -> None:
    writer.write(_head(200, "text/event-stream", None))
    if delay_ms:
        # the opening events go at once (a real upstream sends message_start before the first token)
        writer.write(_chunk(b"".join(events[:3])))
        for event in events[3:]:
            await asyncio.sleep(delay_ms / 1000)
            writer.write(_chunk(event))
    else:
        for i in range(0, len(events), WRITE_BATCH):
            writer.write(_chunk(b"".join(events[i:i + WRITE_BATCH])))
            await writer.drain()
    writer.write(b"0\r\n\r\n")


RESET_AFTER = 0  # --reset-after N: a connection's request after its N-th answer gets a TCP reset, no answer


RESETS = [0]


def _reset(writer: asyncio.StreamWriter) -> None:
    RESETS[0] += 1
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    answered = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if RESET_AFTER and answered >= RESET_AFTER and not head.startswith(b"GET /stats"):
                _reset(writer)  # what an upstream closing a kept-alive connection looks like to the next request
                return
            answered += 1
            line, _, rest = head.partition(b"\r\n")
            method, path, _ = line.split(b" ", 2)
            length = 0
            for header in rest.split(b"\r\n"):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            path = path.split(b"?", 1)[0]
            model, n, delay = _shape(body)
            stream = bool(STREAM.search(body))
            if path.endswith(b"/v1/messages") and method == b"POST":
                if stream:
                    await _stream(writer, anthropic_events(model, n), delay)
                else:
                    data = anthropic_json(model, n)
                    writer.write(_head(200, "application/json", len(data)) + data)
            elif path.endswith(b"/chat/completions") and method == b"POST":
                if stream:
                    await _stream(writer, openai_events(model, n), delay)
                else:
                    data = openai_json(model, n)
                    writer.write(_head(200, "application/json", len(data)) + data)
            elif path == b"/stats":
                data = json.dumps({"resets": RESETS[0]}).encode()
                writer.write(_head(200, "application/json", len(data)) + data)
            elif path in (b"/", b"/health"):
                writer.write(_head(200, "application/json", 2) + b"{}")
            else:
                writer.write(_head(404, "application/json", 2) + b"{}")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
    print(f"PORT={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--uvloop", action="store_true", help="use uvloop when importable")
    parser.add_argument("--reset-after", type=int, default=0, help="reset each connection after N answers")
    args = parser.parse_args()
    RESET_AFTER = args.reset_after
    if args.uvloop:
        try:
            import uvloop  # type: ignore[import-not-found]

            uvloop.install()
        except ImportError:
            print("fake upstream: uvloop not installed, using asyncio", file=sys.stderr)
    try:
        asyncio.run(main(args.port))
    except KeyboardInterrupt:
        pass
