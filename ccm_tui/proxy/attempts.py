"""Send a routed request: the decision's target first, then its fallbacks, retrying what is worth it.

Nothing has reached the client while we are here: a stream's first chunk is fetched before the
response starts, so a stream that fails at once can still fall back. After that, no retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..config import parse_target
from ..errors import ProxyError, is_retryable
from ..flow import Attempt, Flow
from ..providers import UpstreamResponse
from .state import ProxyState

RETRIES_PER_TARGET = 1  # one more try on the same target before moving down the list
BACKOFF_S = 0.5
MAX_RETRY_AFTER_S = 10.0


def targets_for(state: ProxyState, flow: Flow) -> list[str]:
    decision = flow.decision
    assert decision is not None
    router = state.config.router
    chain = [f"{decision.provider},{decision.model}"]
    for target in router.fallbacks.get(decision.route, router.fallback):
        if target not in chain:
            chain.append(target)
    return chain


def _delay(err: ProxyError, attempt: int) -> float:
    retry_after = err.headers.get("retry-after") or err.headers.get("Retry-After")
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    return BACKOFF_S * (2**attempt)


async def _prefetch(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pull the first chunk now (errors surface here), then hand back an iterator over everything."""
    iterator = stream.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = b""

    async def chained() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for chunk in iterator:
                yield chunk
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    return chained()


async def call_with_fallbacks(
    state: ProxyState, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]
) -> UpstreamResponse:
    last: ProxyError | None = None
    chain = targets_for(state, flow)
    for position, target in enumerate(chain):
        provider_name, model = parse_target(target)
        for attempt_no in range(RETRIES_PER_TARGET + 1):
            attempt = Attempt(provider=provider_name, model=model, started=time.time())
            flow.attempts.append(attempt)
            t0 = time.perf_counter()
            try:
                provider = state.provider(provider_name)
                upstream = await provider.messages(flow, {**body, "model": model}, headers)
                if upstream.stream is not None:
                    upstream.stream = await _prefetch(upstream.stream)
            except ProxyError as err:
                attempt.status, attempt.error = err.status, state.redactor.text(err.message)
                attempt.duration_ms = (time.perf_counter() - t0) * 1000
                last = err
                if not is_retryable(err):
                    raise
                if attempt_no < RETRIES_PER_TARGET:
                    await asyncio.sleep(_delay(err, attempt_no))
                continue
            attempt.status = upstream.status
            attempt.duration_ms = (time.perf_counter() - t0) * 1000
            if position or attempt_no:
                flow.note(f"answered by {target} after {len(flow.attempts) - 1} failed attempt(s)")
            if flow.decision is not None and (provider_name, model) != (flow.decision.provider, flow.decision.model):
                flow.decision.provider, flow.decision.model = provider_name, model
            return upstream
    assert last is not None
    raise last
