"""One provider's connections upstream: small httpx pools behind one admission gate.

httpcore's pool rescans all its connections and queued requests whenever a request starts or
ends (``_assign_requests_to_connections``), so one big pool costs O(connections x queued) per
event: at 1000 concurrent streams through one 512-connection pool the first byte took tens of
seconds and the scans held the proxy's loop, stalling every other route. Here each pool holds at
most :data:`POOL_SIZE` connections (a scan stays short), pools are added as the busy ones fill up,
and a request only enters a pool that has a free slot: past :data:`MAX_STREAMS` requests wait
at the gate (a FIFO semaphore), never in httpcore's queue.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

#: Connections per httpx pool. A closing response makes httpcore compare every idle connection with
#: every connection (O(size²)): profiled at 1000 streams, 64 spent ~16% of the proxy's CPU there, 16 ~2%.
POOL_SIZE = 16
MAX_STREAMS = 1024  # requests in flight to one provider; more wait for a slot (pool timeout)
_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs tens of milliseconds: once per process, not per pool."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


class UpstreamPool:
    """``send`` like ``httpx.AsyncClient.send(..., stream=True)``; the slot is freed when the
    response is closed (closing it is the caller's job, as with httpx)."""

    def __init__(self, timeout: httpx.Timeout, *, pool_size: int | None = None, max_streams: int | None = None
                 ) -> None:
        self.timeout = timeout
        self.pool_size = pool_size or POOL_SIZE
        self.max_pools = max(1, -(-(max_streams or MAX_STREAMS) // self.pool_size))
        self._gate = asyncio.Semaphore(self.max_pools * self.pool_size)
        self._clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []

    @property
    def in_flight(self) -> int:
        return sum(self._busy)

    @property
    def pools(self) -> int:
        return len(self._clients)

    def build_request(self, method: str, url: str, **kwargs: object) -> httpx.Request:
        return self._client(0).build_request(method, url, **kwargs)  # type: ignore[arg-type]

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Wait for a slot (at most the pool timeout: ``httpx.PoolTimeout``), then send."""
        if self._gate.locked():
            try:
                async with asyncio.timeout(self.timeout.pool):
                    await self._gate.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("no free upstream connection slot in time", request=request) from None
        else:
            await self._gate.acquire()  # a free slot: returns at once
        index = self._free_pool()
        client = self._client(index)
        self._busy[index] += 1
        release = _once(lambda: self._release(index))
        try:
            response = await client.send(request, stream=True)
        except BaseException:
            release()
            raise
        response.stream = _ReleasingStream(response.stream, release)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    def _free_pool(self) -> int:
        """The first pool with a free slot (the gate guarantees one exists or may be added)."""
        for index, busy in enumerate(self._busy):
            if busy < self.pool_size:
                return index
        return len(self._busy)

    def _client(self, index: int) -> httpx.AsyncClient:
        while index >= len(self._clients):
            limits = httpx.Limits(max_connections=self.pool_size, max_keepalive_connections=self.pool_size)
            self._clients.append(httpx.AsyncClient(timeout=self.timeout, limits=limits, follow_redirects=False,
                                                   verify=_shared_ssl_context()))
            self._busy.append(0)
        return self._clients[index]

    def _release(self, index: int) -> None:
        self._busy[index] -= 1
        self._gate.release()


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that frees its pool slot when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    def __aiter__(self) -> AsyncIterator[bytes]:  # the inner iterator itself: no extra hop per chunk
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()
