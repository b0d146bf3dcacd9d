"""Replay a recorded request on another ``provider,model``: the same body, sent to the proxy itself.

``model = "provider,model"`` is an explicit override, so the replay is routed, translated, recorded
and charged like any request. The UI asks for it as a command (``ProxyServer.command``): the HTTP
round trip runs on the proxy's loop, and the UI gets back one :class:`ReplayResult` to show.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from ..export import content_text
from ..flow import Flow
from ..secrets import PROXY_TOKEN_HEADER, REPLAY_HEADER, Secret

REPLAY_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class ReplayResult:
    text: str  # the answer, or what went wrong
    subtitle: str  # status, time and output tokens, in a few words
    error: bool = False


async def replay(base_url: str, token: Secret, flow: Flow, target: str) -> ReplayResult:
    body = {**(flow.request_body or {}), "model": target, "stream": False}
    headers = {PROXY_TOKEN_HEADER: token.reveal(), REPLAY_HEADER: str(flow.id), "anthropic-version": "2023-06-01"}
    for name, value in flow.request_headers.items():
        if name.lower() == "anthropic-beta":
            headers["anthropic-beta"] = value
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(REPLAY_TIMEOUT, connect=5.0)) as client:
            response = await client.post(base_url + (flow.path or "/v1/messages"), json=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return ReplayResult(f"replay failed: {type(exc).__name__}: {exc}", "failed", error=True)
    if response.status_code >= 400:
        message = (data.get("error") or {}).get("message") if isinstance(data, dict) else None
        return ReplayResult(f"HTTP {response.status_code}: {message or json.dumps(data)}",
                            f"{response.status_code} · {elapsed:.0f}ms", error=True)
    if isinstance(data, dict) and "content" in data:
        text = "\n".join(content_text(data.get("content")))
        usage = data.get("usage") or {}
        return ReplayResult(text or "(empty answer)", f"{elapsed:.0f}ms · out {usage.get('output_tokens', '–')}")
    return ReplayResult(json.dumps(data, indent=2), f"{elapsed:.0f}ms")
