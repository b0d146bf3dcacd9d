"""Anthropic passthrough: the body goes out as it came (routed model), the SSE bytes come back as they are.

The stream is relayed chunk by chunk; a decoder reads along only to fill the flow record
(usage, stop reason, events for the inspector) and to notice a stream cut short.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ..errors import AuthenticationFailed, UpstreamUnavailable, error_for_type
from ..flow import MAX_KEPT_EVENTS, Flow
from ..sse import MAX_FRAME_BYTES, FrameTooLarge, SSEDecoder, encode_event
from .base import Provider, UpstreamResponse, record_event

FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta", "x-claude-code-session-id", "x-app", "user-agent")
_ALWAYS_PARSED = frozenset({"message_start", "message_delta", "message_stop", "error"})
#: Signatures ccm-tui's translators put on thinking blocks they made; Anthropic rejects them.
FOREIGN_SIGNATURE_PREFIXES = ("ccm:", "gemini:", "openai:")


def drop_foreign_thinking(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Remove thinking blocks Anthropic did not sign (made by another provider after a route switch)."""
    dropped = 0
    messages = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "assistant" and isinstance(content, list):
            kept = []
            for block in content:
                if (block.get("type") == "thinking" and _foreign(block.get("signature"))) or (
                    block.get("type") == "redacted_thinking" and str(block.get("data")).startswith("ccm:")
                ):
                    dropped += 1
                    continue
                kept.append(block)
            if len(kept) != len(content):
                message = {**message, "content": kept or [{"type": "text", "text": ""}]}
        messages.append(message)
    return ({**body, "messages": messages} if dropped else body), dropped


def _foreign(signature: Any) -> bool:
    return not isinstance(signature, str) or not signature or signature.startswith(FOREIGN_SIGNATURE_PREFIXES)


def _header_value(value: str) -> str | bytes | None:
    """An incoming header value as it can go out: non-ASCII values are forwarded as the bytes that
    came in (the server decoded them as Latin-1); None if it cannot be encoded at all."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


class AnthropicProvider(Provider):
    path = "/v1/messages"

    def auth_headers(self) -> dict[str, str]:
        if not self.config.api_key:
            raise AuthenticationFailed(
                f"provider {self.name!r} has no API key: set api_key in the config (e.g. \"$ANTHROPIC_API_KEY\")"
            )
        return {"x-api-key": self.config.api_key.reveal()}

    def upstream_headers(self, incoming: Mapping[str, str], flow: Flow | None = None) -> dict[str, str | bytes]:
        headers: dict[str, str | bytes] = {}
        for name in FORWARDED_HEADERS:
            if name in incoming:
                value = _header_value(incoming[name])
                if value is None and flow is not None:
                    flow.note(f"dropped the {name} header: it is not Latin-1 and cannot be forwarded")
                elif value is not None:
                    headers[name] = value
        headers.setdefault("anthropic-version", "2023-06-01")
        headers["accept-encoding"] = "identity"  # relay bytes as they come, no re-compression
        headers.update({k: v.reveal() for k, v in self.config.headers.items()})
        headers.update(self.auth_headers())
        return headers

    async def messages(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> UpstreamResponse:
        body, dropped = drop_foreign_thinking(body)
        if dropped:
            flow.note(f"dropped {dropped} thinking block(s) not signed by Anthropic (made on another route)")
        url = self.config.base_url + self.path + ("?beta=true" if "beta=true" in flow.path else "")
        stream = body.get("stream") is True
        response = await self.send(flow, url, body, self.upstream_headers(headers, flow), stream=stream)
        passed = {k: v for k, v in response.headers.items() if k.lower() in ("request-id", "anthropic-organization-id")}
        if not stream:
            data = await self.read_json(response)
            if flow.requested_model and "model" in data:
                data["model"] = flow.requested_model
            return UpstreamResponse(status=response.status_code, headers=passed, body=data)
        rewrite = flow.requested_model not in (None, body.get("model"))
        return UpstreamResponse(status=200, headers=passed, stream=self._relay(flow, response, rewrite))

    async def _relay(self, flow: Flow, response: httpx.Response, rewrite: bool) -> AsyncIterator[bytes]:
        decoder = SSEDecoder()
        head = b""  # bytes held until message_start is rewritten (model name seen by the client)
        finished = sent = False
        partial = b""  # an unfinished frame: never relayed on its own, so an error event cannot glue onto it
        async with self.relaying(response):
            async for raw in response.aiter_raw():
                partial += raw
                cut = _frames_end(partial)
                if not cut:
                    if len(partial) > MAX_FRAME_BYTES:
                        raise FrameTooLarge(f"no frame end in {len(partial)} bytes")
                    continue
                chunk, partial = self.scrub(partial[:cut]), partial[cut:]  # whole frames: a key cannot straddle
                for frame in decoder.feed(chunk):
                    if frame.event in _ALWAYS_PARSED or len(flow.events) < MAX_KEPT_EVENTS:
                        try:
                            data = json.loads(frame.data)
                        except ValueError:
                            continue
                        if not isinstance(data, dict):
                            continue
                        record_event(flow, frame.event or "", data)
                        if frame.event == "error" and not sent:  # nothing relayed yet: a fallback can still answer
                            err = data.get("error") if isinstance(data.get("error"), dict) else {}
                            message = self.redactor.text(str(err.get("message") or "error before the stream began"))
                            raise error_for_type(str(err.get("type")), f"{self.name}: {message}")
                        if frame.event == "message_start" and rewrite:
                            rewrite = False
                            if isinstance(data.get("message"), dict):
                                data["message"]["model"] = flow.requested_model
                            head = _replace_first_frame(head + chunk, encode_event("message_start", data))
                            chunk = b""
                        finished = finished or frame.event in ("message_stop", "error")
                    else:
                        flow.events_dropped += 1
                if rewrite:
                    head += chunk
                    continue
                if head:
                    chunk, head = head + chunk, b""
                if chunk:
                    sent = True
                    yield chunk
        if not finished:
            raise UpstreamUnavailable(f"provider {self.name!r} ended the stream before message_stop")
        if head + partial.strip():
            yield head + self.scrub(partial)


def _frames_end(buffer: bytes) -> int:
    """Length of the leading run of complete SSE frames in ``buffer`` (0 if none is complete)."""
    lf, crlf = buffer.rfind(b"\n\n"), buffer.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


def _replace_first_frame(buffer: bytes, replacement: bytes) -> bytes:
    """Swap the first SSE frame in ``buffer`` (up to its blank line) for ``replacement``."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = buffer.find(sep)
        if end >= 0:
            return replacement + buffer[end + len(sep):]
    return replacement
