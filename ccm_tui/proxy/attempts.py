"""Send a routed request: the decision's target first, then its fallbacks, retrying what is worth it.

Nothing has reached the client while we are here: a stream's first chunk is fetched before the
response starts, so a stream that fails at once can still fall back. After that, no retry.
An answer with an invalid tool call (providers/toolcheck.py) is retried once: on the next target
of the chain, or on the same one when it is the last.
A stream's headers and first event must come within the provider's ``first_byte_timeout``; once it
runs, upstream silence (no event) longer than its ``stall_timeout`` becomes a ``timeout_error``, and
during shorter silences the client gets ``ping`` keepalives.

The same target is tried again only for a client that does not retry by itself: Anthropic SDK clients
(Claude Code among them) retry 429/5xx and say so with ``x-stainless-retry-count``; retrying for them
too would multiply every upstream call. Fallback targets are always tried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..config import DEFAULT_FIRST_BYTE_TIMEOUT_S, Config, parse_target
from ..errors import InvalidRequest, ProxyError, UpstreamTimeout, is_retryable
from ..flow import Attempt, Flow
from ..limits import clamp_max_tokens, limits_for, replace_images
from ..providers import UpstreamResponse
from ..providers.toolcheck import InvalidToolCall
from ..sse import encode_event
from .state import ProxyState

SAFEGUARD_PROVIDER_TYPES = ("anthropic",)  # Anthropic's own API runs the safeguard classifier
RETRIES_PER_TARGET = 1  # one more try on the same target (for clients that do not retry) before the next
BACKOFF_S = 0.5
MAX_RETRY_AFTER_S = 10.0  # a longer retry-after moves on to the next target instead of waiting
DEFAULT_STALL_TIMEOUT_S = 300.0  # no upstream event for this long → timeout_error (provider stall_timeout)
PING_INTERVAL_S = 10.0  # keepalive cadence during upstream silence, under common 30-60 s idle timeouts
PING = encode_event("ping", {"type": "ping"})


def targets_for(config: Config, flow: Flow) -> list[str]:
    decision = flow.decision
    assert decision is not None
    router = config.router
    chain = [f"{decision.provider},{decision.model}"]
    for target in router.fallbacks_for(decision.route):
        if target not in chain:
            chain.append(target)
    return chain


def _delay(err: ProxyError, attempt: int) -> float | None:
    """Seconds to wait before retrying the same target; None if its retry-after is too long to wait."""
    retry_after = err.headers.get("retry-after") or err.headers.get("Retry-After")
    if retry_after:
        try:
            seconds = max(float(retry_after), 0.0)
        except ValueError:
            seconds = None
        if seconds is not None:
            return seconds if seconds <= MAX_RETRY_AFTER_S else None
    return BACKOFF_S * (2**attempt)


def stall_timeout(config: Config, provider: str) -> float:
    settings = config.providers.get(provider)
    return (settings.stall_timeout if settings and settings.stall_timeout else None) or DEFAULT_STALL_TIMEOUT_S


def first_byte_timeout(config: Config, provider: str) -> float:
    settings = config.providers.get(provider)
    return settings.first_byte_timeout if settings else DEFAULT_FIRST_BYTE_TIMEOUT_S


def client_retries(headers: Mapping[str, str]) -> bool:
    """Whether the client retries 429/5xx itself (the Anthropic SDKs send this header on every try)."""
    return headers.get("x-stainless-retry-count") is not None


async def _anext(iterator: AsyncIterator[bytes]) -> bytes:
    return await iterator.__anext__()


async def _pump(iterator: AsyncIterator[bytes], queue: asyncio.Queue[tuple[bytes | None, BaseException | None]]
                ) -> None:
    """Chunks onto ``queue`` as they come; then ``(None, None)`` at the end, or ``(None, error)``."""
    try:
        while True:
            await queue.put((await iterator.__anext__(), None))
    except StopAsyncIteration:
        await queue.put((None, None))
    except Exception as exc:  # noqa: BLE001 - handed to the relay, which raises it where it is answered
        await queue.put((None, exc))


async def _settle(task: asyncio.Task[Any] | None, iterator: AsyncIterator[bytes]) -> None:
    """Cancel a pending read and close the upstream iterator (its finally closes the connection)."""
    if task is not None:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: no "exception never retrieved" noise
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def _stalled(provider: str, seconds: float) -> UpstreamTimeout:
    return UpstreamTimeout(f"provider {provider!r} stalled: no event for {seconds:g} s (stall_timeout)")


async def guard_stream(stream: AsyncIterator[bytes], provider: str, stall_s: float) -> AsyncIterator[bytes]:
    """Pull the first chunk now (errors surface here; the caller bounds the wait), then hand back a
    guarded iterator. Each chunk a provider hands on carries an event, so the stall clock counts events."""
    iterator = stream.__aiter__()
    task: asyncio.Task[bytes] | None = asyncio.ensure_future(_anext(iterator))
    try:
        await asyncio.wait({task})
        first: bytes | None = task.result()
        task = None
    except StopAsyncIteration:
        first, task = None, None
    except BaseException:
        await _settle(task, iterator)
        raise

    async def guarded() -> AsyncIterator[bytes]:
        if first is None:
            await _settle(None, iterator)
            return
        loop = asyncio.get_running_loop()
        # One task reads ahead (one chunk at most) for the whole stream; the relay waits on the queue
        # with a plain timeout. A task and an asyncio.wait per chunk cost ~10 µs each, every chunk.
        queue: asyncio.Queue[tuple[bytes | None, BaseException | None]] = asyncio.Queue(1)
        reader = loop.create_task(_pump(iterator, queue))
        try:
            yield first
            at_boundary = first.endswith((b"\n\n", b"\r\n\r\n"))
            while True:
                item = None if queue.empty() else queue.get_nowait()
                deadline = loop.time() + stall_s
                while item is None:
                    try:
                        async with asyncio.timeout(min(PING_INTERVAL_S, deadline - loop.time())):
                            item = await queue.get()
                    except TimeoutError:
                        if loop.time() >= deadline:
                            raise _stalled(provider, stall_s) from None
                        if at_boundary:  # a ping may only go between complete frames
                            yield PING
                chunk, error = item
                if error is not None:
                    raise error
                if chunk is None:
                    return
                if chunk:
                    at_boundary = chunk.endswith((b"\n\n", b"\r\n\r\n"))
                    yield chunk
        finally:
            await _settle(reader, iterator)

    return guarded()


def fit_to_model(config: Config, flow: Flow, body: dict[str, Any], provider: str, model: str) -> dict[str, Any]:
    """The body as this target can take it: max_tokens within its output cap, no images for a
    text-only model. Each change is noted on the flow.

    Auto mode's ``safeguards`` ask Anthropic's server-side classifier to vet tool calls; no other
    provider has one. Dropping the field would leave Claude Code waiting for verdicts that never
    come, so such targets answer the 400 naming ``safeguards`` that Claude Code handles by retrying
    without it and asking the user before it runs a tool: fail closed, never silently open.
    """
    kind = config.providers[provider].type if provider in config.providers else None
    if body.get("safeguards") and kind not in SAFEGUARD_PROVIDER_TYPES:
        flow.expected_refusal = True
        flow.note("auto-mode safeguards handshake: claude resends without them (expected, not an error)")
        raise InvalidRequest(
            f"safeguards: auto-mode safeguards are not supported by {provider},{model} ({kind} provider, routed "
            "by ccm-tui); resend without `safeguards` and confirm tool use instead"
        )
    limits = limits_for(config, provider, model)
    body, clamped = clamp_max_tokens(body, limits)
    body, replaced = replace_images(body, limits)
    for note in (clamped, replaced):
        if note:
            flow.note(note)
    return {**body, "model": model}


async def _answer(state: ProxyState, config: Config, flow: Flow, name: str, body: dict[str, Any],
                  headers: Mapping[str, str]) -> UpstreamResponse:
    """One attempt; a stream's headers and first event must come within ``first_byte_timeout``.

    A non-streamed answer comes whole, as long as it takes to write: only ``timeout`` bounds it.
    """
    provider = state.provider(name, config, flow)
    if body.get("stream") is not True:
        return await provider.messages(flow, body, headers)
    limit = first_byte_timeout(config, name)
    try:
        async with asyncio.timeout(limit):
            upstream = await provider.messages(flow, body, headers)
            if upstream.stream is not None:
                upstream.stream = await guard_stream(upstream.stream, name, stall_timeout(config, name))
    except TimeoutError:
        raise UpstreamTimeout(f"provider {name!r} sent no event within {limit:g} s (first_byte_timeout)") from None
    return upstream


async def call_with_fallbacks(
    state: ProxyState, config: Config, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]
) -> UpstreamResponse:
    """Try the targets of ``config`` (the request's snapshot) in order; the first answer wins."""
    last: ProxyError | None = None
    chain = targets_for(config, flow)
    retries = 0 if client_retries(headers) else RETRIES_PER_TARGET
    for position, target in enumerate(chain):
        provider_name, model = parse_target(target)
        outgoing = fit_to_model(config, flow, body, provider_name, model)
        tries, attempt_no = retries + 1, -1
        while attempt_no + 1 < tries:
            attempt_no += 1
            attempt = Attempt(provider=provider_name, model=model, started=time.time())
            flow.attempts.append(attempt)
            t0 = time.perf_counter()
            try:
                upstream = await _answer(state, config, flow, provider_name, outgoing,
                                         state.headers_for(config, provider_name, headers))
            except ProxyError as err:
                attempt.status, attempt.error = err.status, state.redactor.text(err.message)
                attempt.duration_ms = (time.perf_counter() - t0) * 1000
                last = err
                if isinstance(err, InvalidToolCall):  # once: on the fallback, else on the same target
                    flow.tool_call_retried = True
                    following = chain[position + 1] if position + 1 < len(chain) else target
                    flow.note(f"{target}: {attempt.error}; retried once on {following}")
                    if following != target:
                        break
                    tries = attempt_no + 2
                    continue
                if not is_retryable(err):
                    raise
                if attempt_no < retries:
                    delay = _delay(err, attempt_no)
                    if delay is None:
                        flow.note(f"{target}: retry-after {err.headers.get('retry-after')} s is too long; "
                                  "not retried")
                        break
                    await asyncio.sleep(delay)
                continue
            attempt.status = upstream.status
            attempt.duration_ms = (time.perf_counter() - t0) * 1000
            if position or attempt_no:
                flow.note(f"answered by {target} after {len(flow.attempts) - 1} failed attempt(s)")
            if flow.decision is not None and (provider_name, model) != (flow.decision.provider, flow.decision.model):
                # one swap, not two field writes: the UI thread never reads a half-updated target
                flow.decision = dataclasses.replace(flow.decision, provider=provider_name, model=model)
            return upstream
    assert last is not None
    raise last
