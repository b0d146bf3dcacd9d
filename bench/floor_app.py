"""The stack's floor: a Quart app on Hypercorn relaying to the upstream with one httpx.AsyncClient,
and nothing else (no auth, validation, routing, records). ccm-tui's proxy minus this = its own cost.

Run: ``python bench/floor_app.py UPSTREAM_URL``; prints ``PORT=<n>`` once listening.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import AsyncIterator

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request


def build(upstream: str) -> Quart:
    app = Quart("floor")
    app.config["RESPONSE_TIMEOUT"] = None
    clients: list[httpx.AsyncClient] = []

    @app.post("/v1/messages")
    async def messages() -> Response:
        if not clients:
            clients.append(httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=512,
                                                                             max_keepalive_connections=64)))
        client = clients[0]
        data = await request.get_data()
        req = client.build_request("POST", upstream + "/v1/messages", content=data,
                                   headers={"content-type": "application/json"})
        upstream_response = await client.send(req, stream=True)
        if b'"stream": true' not in data and b'"stream":true' not in data:
            body = await upstream_response.aread()
            return Response(body, content_type="application/json")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream_response.aiter_raw():
                    yield chunk
            finally:
                await upstream_response.aclose()

        response = Response(relay(), content_type="text/event-stream")
        response.timeout = None
        return response

    return app


async def main(upstream: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(f"PORT={sock.getsockname()[1]}", flush=True)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("floor")
    await serve(build(upstream), config)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
