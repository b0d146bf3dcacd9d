"""Bounded body reading: pieces never exceed their size, bombs stop at the limit, odd encodings are refused."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import httpx
import pytest

from ccm_tui.providers.body import PIECE_BYTES, UnusableBody, body_pieces, parse_json_object, read_error_body


def response(body: bytes, encoding: str | None = None) -> httpx.Response:
    headers = {"content-encoding": encoding} if encoding else {}
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))


def pieces(resp: httpx.Response, limit: int) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [p async for p in body_pieces(resp, limit)]

    return asyncio.run(collect())


@pytest.mark.parametrize("encoding", [None, "gzip", "x-gzip", "deflate", "raw-deflate"])
def test_every_encoding_decodes_in_bounded_pieces(encoding) -> None:  # type: ignore[no-untyped-def]
    data = bytes(range(256)) * 1000
    packed = {None: data, "gzip": gzip.compress(data), "x-gzip": gzip.compress(data), "deflate": zlib.compress(data),
              "raw-deflate": zlib.compress(data, wbits=-15)}[encoding]
    got = pieces(response(packed, "deflate" if encoding == "raw-deflate" else encoding), len(data))
    assert b"".join(got) == data and max(map(len, got)) <= PIECE_BYTES


def test_a_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))
    with pytest.raises(UnusableBody, match="more than 1048576 bytes"):
        pieces(response(bomb, "gzip"), 1 << 20)


@pytest.mark.parametrize(("encoding", "body", "fragment"), [
    ("br", b"x", "Content-Encoding 'br', which was not asked for"),
    ("gzip, gzip", b"x", "which was not asked for"),
    ("gzip", b"not gzip at all", "broken gzip body"),
])
def test_unusable_encodings_are_refused(encoding, body, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnusableBody, match=fragment):
        pieces(response(body, encoding), 1 << 20)


def test_error_bodies_keep_only_their_start() -> None:
    assert len(asyncio.run(read_error_body(response(gzip.compress(b"e" * (8 << 20)), "gzip")))) == 1 << 20
    assert asyncio.run(read_error_body(response(b"x", "br"))) == b""


def test_json_that_would_cost_too_much_to_build_is_refused() -> None:
    assert parse_json_object(b'{"a": [1, 2, 3]}') == {"a": [1, 2, 3]}
    with pytest.raises(UnusableBody, match="more than 250000 values"):
        parse_json_object(b"[" + b"0," * 250_001 + b"0]")
