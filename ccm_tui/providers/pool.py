"""One provider's connections upstream: one httpx client over :class:`Http1Transport`, behind an admission gate.

Past :data:`MAX_STREAMS` requests in flight, more wait at the gate (a FIFO semaphore, bounded by
the pool timeout), never inside the transport: the upstream sees at most that many at once. The
transport keeps at most :data:`POOL_SIZE` idle connections per origin and costs O(1) per request
(httpcore's pool rescanned every connection per request, quadratic at high concurrency).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

from .transport import Http1Transport

POOL_SIZE = 64  # idle keep-alive connections kept per origin
MAX_STREAMS = 1024  # requests in flight to one provider; more wait for a slot (pool timeout)
URL_CACHE = 256  # parsed upstream URLs kept per pool (a provider calls a few; Gemini one per model)
_ssl_context: ssl.SSLContext | None = None


class _NoCookies(httpx.Cookies):
    """Cookies an upstream sets are never kept: the proxy relays for every client and session, and
    one's ``Set-Cookie`` must not ride along on the others' requests. (httpx's jar also cost ~6 %
    of the proxy's CPU per request, looking for them.)"""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def __bool__(self) -> bool:  # always empty; httpx asks on every request, and the jar would be walked
        return False


class _RelayClient(httpx.AsyncClient):
    """An httpx client that keeps no state between requests but its connections."""

    _no_cookies = _NoCookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: object) -> None:
        pass


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
        self.max_streams = max_streams or MAX_STREAMS
        self._gate = asyncio.Semaphore(self.max_streams)
        self.in_flight = 0
        self.transport = Http1Transport(_shared_ssl_context, max_idle=pool_size or POOL_SIZE)
        self._client: httpx.AsyncClient | None = None
        self._urls: dict[str, httpx.URL] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = _RelayClient(timeout=self.timeout, follow_redirects=False, transport=self.transport)
        return self._client

    def build_request(self, method: str, url: str, **kwargs: object) -> httpx.Request:
        """``url`` parsed once, not per request (parsing was ~3 % of the proxy's CPU per request)."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return self.client.build_request(method, parsed, **kwargs)  # type: ignore[arg-type]

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
        self.in_flight += 1
        release = _once(self._release)
        try:
            if request.url.userinfo:  # the client turns user:password@ into Basic auth
                response = await self.client.send(request, stream=True)
            else:  # straight to the transport: the client's auth, redirect and cookie steps would do nothing
                response = await self.transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _ReleasingStream(response.stream, release)  # type: ignore[arg-type]
        return response

    async def preconnect(self, url: str) -> None:
        """Set up what the first request would (client, CA bundle, one connection), before it comes."""
        await self.transport.preconnect(self.client.build_request("GET", url).url, self.timeout.connect)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        await self.transport.aclose()

    def _release(self) -> None:
        self.in_flight -= 1
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
