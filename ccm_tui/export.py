"""Flows leaving the app: a redacted curl command, JSONL records, and an answer's plain text.

Everything here goes through the proxy's :class:`~ccm_tui.secrets.Redactor`; the proxy token is
never written out, only a ``$ANTHROPIC_AUTH_TOKEN`` (or ``$CCM_TOKEN``) reference.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import state_dir
from .flow import Flow
from .secrets import PROXY_TOKEN_HEADER, Redactor, private_dir, write_private

_FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta", "x-claude-code-session-id")


def curl_command(flow: Flow, base_url: str, redactor: Redactor, *, client_auth: bool = False) -> str:
    """A shell command that re-sends the incoming request to the proxy (token as an env reference).

    ``client_auth``: claude keeps its own login (a provider with ``auth = "client"``), so the proxy
    token goes in ``x-ccm-token`` and claude's credential is a ``$ANTHROPIC_API_KEY`` reference.
    """
    headers = {k.lower(): v for k, v in redactor.headers(flow.request_headers).items()}
    parts = ["curl", "-sS", "-N", shlex.quote(base_url.rstrip("/") + (flow.path or "/v1/messages"))]
    parts += ["-H", shlex.quote("content-type: application/json")]
    if client_auth:
        parts += ["-H", f'"{PROXY_TOKEN_HEADER}: $CCM_TOKEN"', "-H", '"x-api-key: $ANTHROPIC_API_KEY"']
    else:
        parts += ["-H", '"x-api-key: $ANTHROPIC_AUTH_TOKEN"']
    for name in _FORWARDED_HEADERS:
        if name in headers:
            parts += ["-H", shlex.quote(f"{name}: {headers[name]}")]
    body = json.dumps(redactor.data(flow.request_body or {}), ensure_ascii=False)
    return " ".join(parts) + " --data-binary @- <<'CCM_JSON'\n" + body + "\nCCM_JSON\n"


def flow_record(flow: Flow, redactor: Redactor) -> dict[str, Any]:
    """Everything the inspector shows, JSON-safe and redacted."""
    record = flow.summary()
    record.update(
        request_headers=redactor.headers(flow.request_headers),
        request_body=flow.request_body,
        upstream_url=flow.upstream_url,
        upstream_body=flow.upstream_body,
        upstream_status=flow.upstream_status,
        upstream_headers=redactor.headers(flow.upstream_headers),
        response_body=flow.response_body,
        events=list(flow.events),
        events_dropped=flow.events_dropped,
        estimated_input_tokens=flow.estimated_input_tokens,
        reason=flow.decision.reason if flow.decision else None,
    )
    return redactor.data(record)


def default_export_path(session_id: str | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = re.sub(r"[^A-Za-z0-9-]", "", session_id or "")[:8]  # the client's header: never a path or escape
    name = f"session-{stamp}-{tag}.jsonl" if tag else f"session-{stamp}.jsonl"
    return state_dir() / "exports" / name


def write_jsonl(flows: Iterable[Flow], path: Path, redactor: Redactor) -> int:
    """Write one record per line (mode 0600: prompts are private); returns the count."""
    lines = [json.dumps(flow_record(f, redactor), ensure_ascii=False, default=str) for f in flows]
    exports = state_dir() / "exports"
    if path.parent == exports:  # ccm-tui's own folders: made private even if an older version left them 0755
        private_dir(exports, tighten=True)
        state_dir().chmod(0o700)
    write_private(path, "".join(line + "\n" for line in lines))
    return len(lines)


def content_text(blocks: Any) -> list[str]:
    """Text lines of Anthropic content blocks (text, thinking, tool calls)."""
    out: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            out.append(str(block.get("text", "")))
        elif kind == "thinking":
            out.append(f"[thinking] {block.get('thinking', '')}")
        elif kind == "tool_use":
            out.append(f"[tool_use {block.get('name')}] {json.dumps(block.get('input', {}), ensure_ascii=False)}")
    return out


def answer_text(flow: Flow) -> str:
    """The model's answer as text, from the JSON body or the kept stream events."""
    if flow.response_body is not None:
        return "\n".join(content_text(flow.response_body.get("content")))
    parts: dict[int, list[str]] = {}
    for event in list(flow.events):
        kind = event.get("type")
        index = event.get("index", 0)
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                parts.setdefault(index, []).append(f"[tool_use {block.get('name')}] ")
            elif block.get("type") == "thinking":
                parts.setdefault(index, []).append("[thinking] ")
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            parts.setdefault(index, []).append(piece)
    text = "\n".join("".join(p) for _, p in sorted(parts.items()))
    if flow.error:
        text += f"\n[error] {flow.error}"
    return text
