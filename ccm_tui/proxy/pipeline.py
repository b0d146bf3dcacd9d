"""One request's journey: parse → validate → route → provider → response, all on one flow record.

A request reads the session's config snapshot once, as it starts, and uses that snapshot to its
end (routing, budget, fallbacks, provider): a reload or route switch meanwhile never mixes two.
The budget hook runs before any view hears of a flow's end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from quart import Request, Response

from ..config import Config
from ..errors import ConfigurationError, ProxyError, error_for_type
from ..events import FlowEvent
from ..flow import Flow
from ..router import decide, strip_subagent_tag
from ..sse import encode_event
from ..tokens import VocabularyNotLoaded, count_request_tokens, get_encoding
from . import budget
from .attempts import call_with_fallbacks
from .state import ProxyState
from .validate import CONTROL_CHARS, parse_body, replace_lone_surrogates, validate_request

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_MS = 200.0  # rows update in place while a stream runs, at most this often
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
T = TypeVar("T")
#: Counts on the loop never build a vocabulary (~20 MB held, 0.1-0.3 s of CPU): see _with_vocabulary.
_count_built = partial(count_request_tokens, load=False)


def json_response(data: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, content_type="application/json")


def _finish(state: ProxyState, config: Config, flow: Flow, status: int) -> None:
    flow.status = status
    flow.duration_ms = flow.elapsed_ms()
    flow.state = "done"
    state.release(flow)
    budget.charge(state.session.ledger, config, flow)
    state.publish(FlowEvent.FINISHED, flow)


def _fail(state: ProxyState, config: Config, flow: Flow, err: ProxyError) -> None:
    flow.status = flow.status or err.status
    flow.error = state.redactor.text(err.message)
    flow.error_type = err.error_type
    flow.config_error = isinstance(err, ConfigurationError)
    flow.duration_ms = flow.elapsed_ms()
    flow.state = "failed"
    state.release(flow)
    budget.charge(state.session.ledger, config, flow)  # a stream cut short still used (and billed) tokens
    state.publish(FlowEvent.FAILED, flow)


def _unexpected(exc: BaseException) -> ProxyError:
    """The error a flow records for a non-ProxyError: the client went away, or a bug."""
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return ProxyError("client disconnected")
    return ProxyError(f"internal proxy error: {type(exc).__name__}")


@contextmanager
def _failing(state: ProxyState, config: Config, flow: Flow) -> Iterator[None]:
    """Whatever escapes the block ends the flow as failed first: no row stays open forever."""
    try:
        yield
    except ProxyError as err:
        _fail(state, config, flow, err)
        raise
    except BaseException as exc:  # the app's handler logs a bug; a cancellation is the client leaving
        _fail(state, config, flow, _unexpected(exc))
        raise


async def _start(state: ProxyState, config: Config, request: Request, kind: str) -> tuple[Flow, dict[str, Any]]:
    flow = Flow(request.method, request.full_path.rstrip("?"), state.redactor.headers(request.headers), kind=kind)
    flow.session_id = request.headers.get("x-claude-code-session-id")
    flow.agent_id = request.headers.get("x-claude-code-agent-id")
    flow.parent_agent_id = request.headers.get("x-claude-code-parent-agent-id")
    flow.replay_of = state.replay_of(request.headers)
    try:
        raw = await request.get_data(cache=False)
        flow.request_bytes = len(raw)
        body, replaced = replace_lone_surrogates(raw, parse_body(raw))
        if replaced:
            flow.note(f"replaced {replaced} lone UTF-16 surrogate(s) (a cut emoji?) with U+FFFD")
        flow.request_body = body
        model = body.get("model")
        flow.requested_model = model if isinstance(model, str) and not CONTROL_CHARS.search(model) else None
        flow.stream = body.get("stream") is True and kind == "messages"
        validate_request(body, count_tokens=kind == "count_tokens")
    except ProxyError as err:
        state.publish(FlowEvent.CREATED, flow)
        _fail(state, config, flow, err)
        raise
    state.publish(FlowEvent.CREATED, flow)
    return flow, body


async def _with_vocabulary(call: Callable[[], T]) -> T:
    """``call()``, which counts tokens only with vocabularies already built. Vocabularies are built
    on first need, not at start (a proxy that never counts never holds them): on a worker thread,
    once, while this loop goes on serving; then ``call()`` runs again."""
    for _ in range(3):  # cl100k, o200k, then it must succeed
        try:
            return call()
        except VocabularyNotLoaded as missing:
            await asyncio.to_thread(get_encoding, missing.name)
    return call()


async def _route(state: ProxyState, config: Config, flow: Flow, body: dict[str, Any], headers: Any) -> dict[str, Any]:
    """Decide, strip the routing tag, and return the body to forward (model replaced)."""
    with _failing(state, config, flow):
        flow.decision = await _with_vocabulary(partial(
            decide, body, headers, config, body_bytes=flow.request_bytes, count_tokens=_count_built))
    flow.estimated_input_tokens = flow.decision.estimated_tokens
    flow.state = "routed"
    state.publish(FlowEvent.ROUTED, flow)
    forwarded, _ = strip_subagent_tag(body)
    return {**forwarded, "model": flow.decision.model}


async def handle_messages(state: ProxyState, request: Request) -> Response:
    config = state.config  # this request's snapshot, to its end
    flow, body = await _start(state, config, request, "messages")
    outgoing = await _route(state, config, flow, body, request.headers)
    with _failing(state, config, flow):
        await _with_vocabulary(partial(budget.admit, state.session.ledger, config, flow, outgoing, _count_built))
        upstream = await call_with_fallbacks(state, config, flow, outgoing, request.headers)
    headers = {"x-ccm-route": flow.target or ""}
    for name in ("request-id", "anthropic-organization-id"):
        if name in upstream.headers:
            headers[name] = upstream.headers[name]
    if upstream.stream is None:
        flow.response_body = upstream.body
        flow.usage.update((upstream.body or {}).get("usage"))
        flow.stop_reason = (upstream.body or {}).get("stop_reason")
        flow.mark_first_byte()
        _finish(state, config, flow, upstream.status)
        response = json_response(upstream.body or {}, upstream.status)
        response.headers.update(headers)
        return response
    response = Response(relay_body(state, config, flow, upstream.stream), status=200,
                        headers={**SSE_HEADERS, **headers})
    response.timeout = None
    return response


_closing: set[asyncio.Task[Any]] = set()  # upstream closes scheduled by dropped bodies (kept referenced)


def relay_body(state: ProxyState, config: Config, flow: Flow, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The streamed response body. A body dropped before it started (the client left while the
    headers went out: the server never iterates it, so its ``finally`` never runs) still ends the
    flow, settles its budget reservation and closes the upstream stream."""
    body = _relay(state, config, flow, stream)
    loop = asyncio.get_running_loop()

    def dropped() -> None:
        if flow.state in ("done", "failed"):
            return
        _fail(state, config, flow, ProxyError("client disconnected"))
        aclose = getattr(stream, "aclose", None)
        if aclose is not None and not loop.is_closed():
            task = loop.create_task(aclose())
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    weakref.finalize(body, dropped).atexit = False
    return body


async def _relay(state: ProxyState, config: Config, flow: Flow, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pass the provider's SSE bytes on as they come; a failure mid-stream becomes ``event: error``."""
    flow.state = "streaming"
    last_progress = 0.0
    try:
        async for chunk in stream:
            if flow.mark_first_byte():
                state.publish(FlowEvent.FIRST_BYTE, flow)
                last_progress = flow.first_byte_ms or 0.0
            elif (now := flow.elapsed_ms()) - last_progress >= PROGRESS_INTERVAL_MS:
                last_progress = now
                state.publish(FlowEvent.PROGRESS, flow)
            yield chunk
    except Exception as exc:  # the client still gets the one error shape, as an `event: error` frame
        if isinstance(exc, ProxyError):
            err = exc
        else:
            log.exception("stream relay failed")
            err = _unexpected(exc)
        message = state.redactor.text(err.message)
        if flow.attempts:
            flow.attempts[-1].error = message  # failed after the first byte: no retry
        _fail(state, config, flow, err)  # before the frame: a client gone by then must not leave the flow open
        yield encode_event("error", {"type": "error", "error": {"type": err.error_type, "message": message}})
        return
    except BaseException as exc:  # client gone (cancelled): record it, never leave the flow open
        if flow.error is not None:  # the upstream's relayed `event: error` is what went wrong
            flow.note("client disconnected after the upstream's error")
            _fail(state, config, flow, error_for_type(flow.error_type or "", flow.error))
        else:
            _fail(state, config, flow, _unexpected(exc))
        raise
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    if flow.error is not None:  # an upstream `event: error` relayed as it came (passthrough)
        _fail(state, config, flow, error_for_type(flow.error_type or "", flow.error))
    else:
        _finish(state, config, flow, 200)


async def handle_count_tokens(state: ProxyState, request: Request) -> Response:
    config = state.config
    flow, body = await _start(state, config, request, "count_tokens")
    outgoing = await _route(state, config, flow, body, request.headers)
    with _failing(state, config, flow):
        provider = state.provider(flow.decision.provider, config, flow)  # type: ignore[union-attr]
        count = await provider.count_tokens(flow, outgoing, state.headers_for(config, provider.name, request.headers))
    flow.usage.input_tokens = count
    flow.response_body = {"input_tokens": count}
    _finish(state, config, flow, 200)
    return json_response({"input_tokens": count})
