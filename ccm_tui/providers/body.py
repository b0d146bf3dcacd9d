"""Reading an upstream's body: bounded in size, in decompression, and in time held on the event loop.

Every request asks for ``identity``; a server that compresses anyway with gzip or deflate is decoded
here at most :data:`PIECE_BYTES` at a time (``zlib`` with ``max_length``), so a small bomb can never
expand in one step. Other encodings are refused: nothing asked for them. The decoded size is what
counts against ``[server] max_response_bytes``, and the loop is yielded after every piece, so other
requests (and ``/health``) keep being served while a hostile body is read.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

#: Largest piece handed on at once, and the most read between two turns of the loop: translating 4 KiB
#: of the densest SSE (~70 tiny events) takes a few ms.
PIECE_BYTES = 4 * 1024
#: Error bodies only yield a message; the rest of a huge one is not read.
ERROR_BODY_BYTES = 1024 * 1024
#: Values (commas and brackets, counted in the raw text) a JSON answer may hold. json.loads cannot
#: yield the loop: 250 000 values parse in under ~0.1 s, while 64 MiB of ``{},{},...`` took 6.5 s and
#: 1.5 GB. Even a 128k-token answer made of nothing but commas stays below it.
MAX_JSON_VALUES = 250_000


class UnusableBody(ValueError):
    """The body cannot be used: too large, an encoding not asked for, broken compression, not a JSON object."""


class _Inflater:
    """gzip / deflate decoded in bounded pieces (deflate: zlib-wrapped, or raw as some servers send)."""

    def __init__(self, encoding: str) -> None:
        self._try_raw = encoding == "deflate"  # until the first bytes decode one way or the other
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """What ``data`` decodes to, at most :data:`PIECE_BYTES` per piece (raises zlib.error)."""
        while data:
            try:
                out = self._obj.decompress(data, PIECE_BYTES)
            except zlib.error:
                if not self._try_raw:
                    raise
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._obj.decompress(data, PIECE_BYTES)
            self._try_raw = False
            data = self._obj.unconsumed_tail  # left over only when this piece came out full
            if out:
                yield out


def _slices(data: bytes) -> Iterator[bytes]:
    if len(data) <= PIECE_BYTES:
        yield data
        return
    view = memoryview(data)
    for start in range(0, len(data), PIECE_BYTES):
        yield bytes(view[start:start + PIECE_BYTES])


def content_encoding(response: httpx.Response) -> str | None:
    """``gzip``, ``deflate`` or None (identity); anything else is refused."""
    value = response.headers.get("content-encoding", "").strip().lower()
    if value in ("", "identity"):
        return None
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value == "deflate":
        return "deflate"
    raise UnusableBody(f"answered with Content-Encoding {value[:40]!r}, which was not asked for")


async def body_pieces(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """The decoded body in pieces of at most :data:`PIECE_BYTES`, the loop yielded every such amount.

    Past ``limit`` decoded bytes it raises :class:`UnusableBody` (naming the config key that sets it).
    Reads with ``aiter_raw``: httpx's own decoders expand a chunk whole.
    """
    encoding = content_encoding(response)
    split = _Inflater(encoding).pieces if encoding else _slices
    total = unyielded = 0
    async for raw in response.aiter_raw():
        try:
            for piece in split(raw):
                total += len(piece)
                if total > limit:
                    raise UnusableBody(f"answered with more than {limit} bytes (max_response_bytes)")
                yield piece
                unyielded += len(piece)
                if unyielded >= PIECE_BYTES:  # reading buffered data need not yield: the loop gets a turn here
                    unyielded = 0
                    await asyncio.sleep(0)
        except zlib.error as exc:
            raise UnusableBody(f"answered with a broken {encoding} body: {exc}") from None


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The whole decoded body, at most ``limit`` bytes (else the typed error); the response is closed."""
    buffer = bytearray()
    try:
        async for piece in body_pieces(response, limit):
            buffer += piece
    finally:
        await response.aclose()
    return bytes(buffer)


async def read_error_body(response: httpx.Response) -> bytes:
    """The start of an error body, at most :data:`ERROR_BODY_BYTES`: a message is all we want from it."""
    buffer = bytearray()
    try:
        async for piece in body_pieces(response, ERROR_BODY_BYTES):
            buffer += piece
    except (httpx.HTTPError, UnusableBody):
        pass  # past the limit, cut, or undecodable: what came is what there is
    finally:
        await response.aclose()
    return bytes(buffer)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, refusing what is not one or would cost too much to build."""
    values = raw.count(b",") + raw.count(b"{") + raw.count(b"[")
    if values > MAX_JSON_VALUES:
        raise UnusableBody(f"answered with JSON of more than {MAX_JSON_VALUES} values")
    try:
        data = json.loads(raw)
    except ValueError:
        snippet = raw[:200].decode("utf-8", "replace")
        raise UnusableBody(f"answered with non-JSON: {snippet!r}") from None
    if not isinstance(data, dict):
        raise UnusableBody(f"answered with a JSON {type(data).__name__}")
    return data


def frames_end(buffer: bytes | bytearray, start: int = 0) -> int:
    """Length of the leading run of complete SSE frames in ``buffer`` (0 if none), searching from ``start``."""
    lf, crlf = buffer.rfind(b"\n\n", start), buffer.rfind(b"\n\r\n", start)
    return max(lf + 2 if lf >= 0 else 0, crlf + 3 if crlf >= 0 else 0)
