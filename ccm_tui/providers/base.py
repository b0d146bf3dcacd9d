"""What every provider module implements, and the I/O plumbing they share.

A provider gets the Anthropic request (``model`` already the routed one) and answers with an
:class:`UpstreamResponse`: a JSON body, or an async iterator of Anthropic SSE bytes. It raises
:class:`~ccm_tui.errors.ProxyError` for anything that fails before the answer starts; a stream
iterator raises it mid-stream and the proxy turns it into ``event: error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ..config import DEFAULT_MAX_RESPONSE_BYTES, ProviderConfig
from ..errors import ProxyError, UpstreamTimeout, UpstreamUnavailable, error_for_status
from ..flow import Flow
from ..secrets import Redactor, redact_url
from ..sse import MAX_FRAME_BYTES, FrameTooLarge, SSEDecoder, SSEFrame, encode_event
from .blocks import Event
from .body import UnusableBody, body_pieces, frames_end, parse_json_object, read_body, read_error_body
from .pool import UpstreamPool
from .toolcheck import ToolCheck

#: Most of an answer's start held back (as JSON bytes, and seconds: no keepalive gap longer than
#: the usual ping interval) while an invalid tool call could still be retried.
HOLD_BYTES = 64 * 1024
HOLD_S = 10.0

#: Query parameters a flow's upstream URL shows as they are; others may hold a key.
SAFE_QUERY_PARAMS = ("alt", "beta", "api-version")


@dataclass(slots=True)
class UpstreamResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None


class StreamTranslator(Protocol):
    """A pure state machine: upstream chunk (parsed JSON) in, Anthropic events out."""

    def feed(self, chunk: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]: ...

    def finish(self) -> list[tuple[str, dict[str, Any]]]:
        """Close open blocks and end the message; raise ProxyError if the upstream was cut short."""
        ...


def record_event(flow: Flow, event_type: str, data: dict[str, Any]) -> None:
    """Keep what the record needs from one Anthropic stream event (usage, stop reason, errors)."""
    flow.keep_event(data)
    if event_type == "message_start":
        flow.usage.update(data.get("message", {}).get("usage"))
    elif event_type == "message_delta":
        flow.usage.update(data.get("usage"))
        flow.stop_reason = (data.get("delta") or {}).get("stop_reason") or flow.stop_reason
    elif event_type == "error":
        err = data.get("error") or {}
        flow.error, flow.error_type = err.get("message"), err.get("type")


def transport_error(exc: Exception, provider: str) -> ProxyError:
    """httpx failures → typed errors that name the provider (never the URL's query or a key)."""
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"provider {provider!r} timed out ({type(exc).__name__})")
    return UpstreamUnavailable(f"provider {provider!r} is unreachable: {type(exc).__name__}: {exc}")


class Provider:
    """Base class: holds the config and the provider's own connections upstream."""

    def __init__(self, config: ProviderConfig, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self.config = config
        self.name = config.name
        self.max_response_bytes = max_response_bytes
        self.redactor = Redactor([config.api_key, *config.headers.values()])  # for what upstreams echo back
        #: each open upstream response → its flow, which keeps the raw answer for the inspector
        self._raw_for: weakref.WeakKeyDictionary[httpx.Response, Flow] = weakref.WeakKeyDictionary()
        # as sent and as a JSON string would carry it (a key with a quote or backslash in it)
        self._secret_bytes = list(dict.fromkeys(
            form for value in self.redactor.values for form in (value.encode(), json.dumps(value)[1:-1].encode())))
        self.upstream = UpstreamPool(httpx.Timeout(config.timeout, connect=config.connect_timeout))

    async def messages(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> UpstreamResponse:
        raise NotImplementedError

    async def count_tokens(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> int:
        """A local count, on a worker thread: the first builds a vocabulary, a long one takes tens of ms."""
        from ..tokens import count_request_tokens

        return await asyncio.to_thread(count_request_tokens, body, model=body.get("model"))

    async def aclose(self) -> None:
        await self.upstream.aclose()

    def scrub(self, data: bytes) -> bytes:
        """Relayed bytes with this provider's keys replaced (cheap when, as always, there are none)."""
        for secret in self._secret_bytes:
            if secret in data:
                data = data.replace(secret, b"***")
        return data

    # -- shared I/O ----------------------------------------------------------------------------
    def parse_error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProxyError:
        """Upstream error body → typed error. Providers override for their own shapes."""
        message = _error_message(raw) or f"HTTP {status}"
        return error_for_status(status, f"{self.name}: {message}", headers)

    async def send(
        self, flow: Flow, url: str, payload: dict[str, Any], headers: Mapping[str, str | bytes]
    ) -> httpx.Response:
        """POST and return the response with its body unread (read it with :meth:`read_json` or
        :meth:`frames`, both bounded); a redirect or non-2xx raises the typed error."""
        flow.upstream_url = redact_url(url, keep=SAFE_QUERY_PARAMS)  # a base_url may carry user:password@
        flow.upstream_body = payload
        # bytes are relayed or parsed as they come: no compression asked for (body.py bounds it if sent anyway)
        request = self.upstream.build_request("POST", url, json=payload,
                                              headers={**headers, "accept-encoding": "identity"})
        try:
            response = await self.upstream.send(request)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from None
        flow.upstream_status = response.status_code
        flow.upstream_headers = self.redactor.headers(response.headers)
        if 300 <= response.status_code < 400:
            await response.aclose()
            where = self.redactor.text(redact_url(response.headers.get("location", "")[:500]))
            raise UpstreamUnavailable(f"provider {self.name!r} answered HTTP {response.status_code} (redirect to "
                                      f"{where or 'nowhere'!r}), not followed: check base_url")
        if response.status_code >= 400:
            raw = await read_error_body(response)
            flow.keep_raw(self.scrub(raw))
            err = self.parse_error(response.status_code, raw, response.headers)
            err.message = self.redactor.text(err.message)  # some upstreams quote the bad key back
            raise err
        self._raw_for[response] = flow
        return response

    async def read_json(self, response: httpx.Response) -> dict[str, Any]:
        """The whole answer as a JSON object: bounded, keys scrubbed, typed errors naming the provider."""
        try:
            raw = self.scrub(await read_body(response, self.max_response_bytes))
            if (flow := self._raw_for.get(response)) is not None:
                flow.keep_raw(raw)
            return parse_json_object(raw)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from None
        except UnusableBody as exc:
            raise UpstreamUnavailable(f"provider {self.name!r} {exc}") from None

    async def frames(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body as runs of whole SSE frames, keys scrubbed, bounded; an unterminated tail comes last.

        Whole frames only: a key cannot straddle two runs, an error event cannot glue onto half a frame.
        """
        partial = bytearray()
        flow = self._raw_for.get(response)
        async for piece in body_pieces(response, self.max_response_bytes):
            searched = max(len(partial) - 2, 0)
            partial += piece
            cut = frames_end(partial, searched)
            if not cut:
                if len(partial) > MAX_FRAME_BYTES:
                    raise FrameTooLarge(f"no frame end in {len(partial)} bytes")
                continue
            run = self.scrub(bytes(partial[:cut]))
            del partial[:cut]
            if flow is not None:
                flow.keep_raw(run)
            yield run
        if partial.strip():
            tail = self.scrub(bytes(partial))
            if flow is not None:
                flow.keep_raw(tail)
            yield tail

    async def translate_stream(
        self, flow: Flow, response: httpx.Response, translator: StreamTranslator, *, check: ToolCheck | None = None
    ) -> AsyncIterator[bytes]:
        """Upstream SSE → translator → Anthropic SSE bytes, chunk by chunk, never buffered whole.

        With a tool ``check`` that may still retry, the start of the answer is held back (at most
        :data:`HOLD_BYTES` and :data:`HOLD_S`) until its first text or thinking: an answer that
        opens with invalid tool calls can then still go to another target, because nothing reached
        the client. From the first byte sent on, invalid calls are only noted.
        """
        decoder = SSEDecoder()
        held: list[Event] = []
        held_bytes = 0
        holding = check is not None and check.retry_allowed and check.active
        deadline = asyncio.get_running_loop().time() + HOLD_S if holding else None
        async with self.relaying(response), contextlib.aclosing(_reads(self.frames(response), deadline)) as reads:
            async for raw in reads:
                out: list[Event] = []
                if raw is None and holding and check is not None:  # held long enough: let it go
                    holding = check.retry_allowed = False
                    out, held = held, []
                for frame in decoder.feed(raw or b""):
                    events = self._translate_frame(frame, translator)
                    if holding and check is not None:
                        held += events
                        held_bytes += sum(len(json.dumps(data)) for _, data in events)
                        if not _settles(events) and held_bytes <= HOLD_BYTES:
                            continue
                        holding = check.retry_allowed = False  # from here on it goes to the client
                        events, held = held, []
                    out += events
                if out:
                    yield b"".join(_emit(flow, event_type, data) for event_type, data in out)
            # An unterminated last frame of a cut stream may be half JSON: skipped, finish() reports the cut.
            tail = held + [e for frame in decoder.close() for e in self._translate_frame(frame, translator, strict=False)]
            tail += translator.finish()
            if tail:
                yield b"".join(_emit(flow, event_type, data) for event_type, data in tail)

    @contextlib.asynccontextmanager
    async def relaying(self, response: httpx.Response) -> AsyncIterator[None]:
        """Around reading an upstream stream: transport failures and broken framing become typed
        errors naming the provider, and the response is closed however the relay ends."""
        try:
            yield
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from None
        except FrameTooLarge as exc:
            raise UpstreamUnavailable(f"provider {self.name!r} sent a malformed event stream: {exc}") from None
        except UnusableBody as exc:
            raise UpstreamUnavailable(f"provider {self.name!r} {exc}") from None
        finally:
            await response.aclose()

    def _translate_frame(self, frame: SSEFrame, translator: StreamTranslator, *, strict: bool = True) -> list[Event]:
        """One upstream frame → Anthropic events; an in-stream error object raises its typed error."""
        if frame.data == "[DONE]":
            return []
        try:
            chunk = json.loads(frame.data)
        except ValueError:
            if not strict:
                return []
            raise UpstreamUnavailable(f"{self.name}: malformed stream chunk {frame.data[:120]!r}") from None
        if isinstance(chunk, dict) and chunk.get("error"):
            raise self.parse_error(_stream_error_status(chunk), frame.data.encode(), {})
        return translator.feed(chunk)


async def _reads(chunks: AsyncIterator[bytes], deadline: float | None) -> AsyncIterator[bytes | None]:
    """The upstream reads, plus one ``None`` when ``deadline`` (loop time) passes between two."""
    loop = asyncio.get_running_loop()
    iterator = chunks.__aiter__()
    while deadline is not None:
        pending = asyncio.ensure_future(anext(iterator))
        try:
            done, _ = await asyncio.wait({pending}, timeout=max(deadline - loop.time(), 0.0))
            if not done:
                deadline = None
                yield None
            chunk = await pending
        except StopAsyncIteration:
            return
        finally:
            if not pending.done():  # closed while waiting: no read left behind
                pending.cancel()
                await asyncio.wait({pending})
        yield chunk
    async for chunk in iterator:  # past the deadline: plain reads, no task per chunk
        yield chunk


def _settles(events: list[Event]) -> bool:
    """Text or thinking has begun (what the user watches), or the message is complete. Tool calls
    alone are held: Claude Code runs them only at the message's end anyway."""
    return any(kind == "message_stop"
               or (kind == "content_block_delta" and data["delta"].get("type") != "input_json_delta")
               for kind, data in events)


def _emit(flow: Flow, event_type: str, data: dict[str, Any]) -> bytes:
    record_event(flow, event_type, data)
    return encode_event(event_type, data)


def _stream_error_status(chunk: dict[str, Any]) -> int:
    """An in-stream ``{"error": {...}}`` (any other keys beside it): its HTTP-like code, else 500."""
    err = chunk.get("error")
    code = err.get("code") if isinstance(err, dict) else None
    return code if isinstance(code, int) and 400 <= code < 600 else 500


def _error_message(raw: bytes) -> str | None:
    """Pull a message out of the common error shapes; fall back to a short text snippet."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        if text.lstrip().startswith("<"):
            return "upstream returned an HTML error page"
        return text[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            for key in ("message", "detail", "Message"):
                if isinstance(err.get(key), str):
                    return err[key]
                if isinstance(err.get(key), dict) and isinstance(err[key].get("message"), str):
                    return err[key]["message"]
        if isinstance(err, str):
            return err
    return text[:300]
