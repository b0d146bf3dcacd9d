"""Anthropic passthrough: the body goes out as it came (routed model), the SSE bytes come back as they are.

The stream is relayed chunk by chunk; a decoder reads along only to fill the flow record
(usage, stop reason, events for the inspector) and to notice a stream cut short.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ..errors import ConfigurationError, ProxyError, UpstreamUnavailable, error_for_type
from ..flow import MAX_KEPT_EVENTS, Flow
from ..secrets import CLIENT_CREDENTIAL_HEADERS
from ..sse import SSEFrame, encode_event, parse_frame, split_frames
from .base import Provider, UpstreamResponse, record_event

FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta", "x-claude-code-session-id", "x-app", "user-agent")
_ALWAYS_PARSED = frozenset({"message_start", "message_delta", "message_stop", "error"})
#: Signatures ccm-tui's translators put on thinking blocks they made; Anthropic rejects them.
FOREIGN_SIGNATURE_PREFIXES = ("ccm:", "gemini:", "openai:")
KEEPALIVE_BYTES = 64 * 1024  # comments and pings held for the next event; beyond this they are dropped


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
            raise ConfigurationError(
                f"provider {self.name!r} has no API key: set api_key in the config (e.g. \"$ANTHROPIC_API_KEY\")"
            )
        return {"x-api-key": self.config.api_key.reveal()}

    def credential_headers(self, incoming: Mapping[str, str]) -> dict[str, str]:
        """The configured key; with ``auth = "client"``, claude's own Authorization / x-api-key unchanged
        (the proxy hands them to this provider only: ProxyState.headers_for)."""
        if self.config.auth != "client":
            return self.auth_headers()
        own = {name: incoming[name] for name in CLIENT_CREDENTIAL_HEADERS if incoming.get(name)}
        if not own:
            raise ConfigurationError(
                f"provider {self.name!r} uses claude's own login (auth = \"client\"), but the request carried no "
                "credential: log in to claude (/login) or set ANTHROPIC_API_KEY for it"
            )
        return own

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
        headers.update({k: v.reveal() for k, v in self.config.headers.items()})
        headers.update(self.credential_headers(incoming))
        return headers

    async def messages(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> UpstreamResponse:
        body, dropped = drop_foreign_thinking(body)
        if dropped:
            flow.note(f"dropped {dropped} thinking block(s) not signed by Anthropic (made on another route)")
        url = self.config.base_url + self.path + ("?beta=true" if "beta=true" in flow.path else "")
        stream = body.get("stream") is True
        response = await self.send(flow, url, body, self.upstream_headers(headers, flow))
        passed = {k: self.redactor.text(v) for k, v in response.headers.items()
                  if k.lower() in ("request-id", "anthropic-organization-id")}
        if not stream:
            data = self._message(await self.read_json(response))
            if flow.requested_model and "model" in data:
                data["model"] = flow.requested_model
            return UpstreamResponse(status=response.status_code, headers=passed, body=data)
        rewrite = flow.requested_model not in (None, body.get("model"))
        return UpstreamResponse(status=200, headers=passed, stream=self._relay(flow, response, rewrite))

    def _message(self, data: dict[str, Any]) -> dict[str, Any]:
        """A Messages answer, or the typed error: an error object as a 200, or no message at all."""
        if data.get("type") == "error":
            err = data.get("error") if isinstance(data.get("error"), dict) else {}
            message = self.redactor.text(str(err.get("message") or "error"))
            raise error_for_type(str(err.get("type")), f"{self.name}: {message}")
        if not isinstance(data.get("content"), list):
            keys = ", ".join(sorted(map(str, data))[:8]) or "none"
            raise UpstreamUnavailable(f"provider {self.name!r} answered 200 without a message (keys: {keys})")
        return data

    async def _relay(self, flow: Flow, response: httpx.Response, rewrite: bool) -> AsyncIterator[bytes]:
        """Relay whole frames as they come; each chunk handed on carries at least one event.

        Comments and pings wait for the next event (bounded), so the stall clock counts events, not
        bytes. A frame that is not JSON becomes a typed error; so does an ``error`` event before
        anything was relayed (a fallback can still answer).
        """
        held = b""  # keepalive frames waiting for the next event
        finished = sent = False
        async with self.relaying(response):
            async for run in self.frames(response):
                out: list[bytes] = []
                try:
                    for raw in split_frames(run):
                        if not raw.endswith((b"\n\n", b"\n\r\n")):
                            continue  # a cut last frame: nothing for the client (the end check reports it)
                        frame = parse_frame(raw)
                        if frame is None or frame.event in (None, "ping"):  # comments, pings, nameless data
                            if len(held) + len(raw) <= KEEPALIVE_BYTES:
                                held += raw
                            continue
                        data = self._event_data(frame)
                        # an error before anything was relayed is this attempt's, not the flow's: a fallback may answer
                        if frame.event == "error" and not sent:
                            err = data.get("error") if isinstance(data.get("error"), dict) else {}
                            message = self.redactor.text(str(err.get("message") or "error before the stream began"))
                            raise error_for_type(str(err.get("type")), f"{self.name}: {message}")
                        if frame.event in _ALWAYS_PARSED or len(flow.events) < MAX_KEPT_EVENTS:
                            record_event(flow, frame.event, data)
                        else:
                            flow.events_dropped += 1
                        if frame.event == "message_start" and rewrite:
                            rewrite = False
                            if isinstance(data.get("message"), dict):
                                data["message"]["model"] = flow.requested_model
                            raw = encode_event("message_start", data)
                        finished = finished or frame.event in ("message_stop", "error")
                        out.append(held + raw)
                        held = b""
                except ProxyError:
                    if sent and out:  # what came before the bad frame still reaches the client
                        yield b"".join(out)
                    raise
                if out:
                    sent = True
                    yield b"".join(out)
        if not finished:
            raise UpstreamUnavailable(f"provider {self.name!r} ended the stream before message_stop")

    def _event_data(self, frame: SSEFrame) -> dict[str, Any]:
        try:
            data = json.loads(frame.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamUnavailable(f"provider {self.name!r} sent a malformed {frame.event} event: "
                                      f"{frame.data[:120]!r}")
        return data
