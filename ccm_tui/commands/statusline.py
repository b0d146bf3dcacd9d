"""``ccm-tui statusline``: the one line claude shows under its prompt, from the running proxy.

claude runs this for every statusline refresh with a JSON object on stdin (``session_id``,
``model``, …). It asks ``$CCM_STATUS_URL`` (else ``$ANTHROPIC_BASE_URL/ccm/status``) with the
proxy token and prints e.g. ``⇢ think → deepseek,deepseek-reasoner · $0.42 · cache 81% · ctx 23k/128k``.
Standard library only and a raw loopback socket: it must answer in a few tens of milliseconds.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any
from urllib.parse import quote, urlsplit

from ..secrets import PROXY_TOKEN_HEADER

TIMEOUT_S = 0.3
MAX_INPUT = 1 << 20
MAX_ANSWER = 64 * 1024
ARROW = "⇢"


def token_header(env: os._Environ[str] | dict[str, str]) -> str | None:
    """The header line that proves this is claude's proxy: ours from ``ANTHROPIC_CUSTOM_HEADERS`` when
    claude keeps its own login (then its own credentials are not ours to send), else the token."""
    for line in env.get("ANTHROPIC_CUSTOM_HEADERS", "").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == PROXY_TOKEN_HEADER and value.strip():
            return f"{PROXY_TOKEN_HEADER}: {value.strip()}"
    token = env.get("ANTHROPIC_AUTH_TOKEN") or env.get("ANTHROPIC_API_KEY") or ""
    return f"Authorization: Bearer {token}" if token else None


def _fetch(url: str, header: str, session_id: str) -> dict[str, Any] | None:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    path = (parts.path or "/ccm/status") + "?session_id=" + quote(session_id, safe="")
    host = parts.hostname
    request = (f"GET {path} HTTP/1.0\r\nHost: {host}\r\n{header}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    try:
        with socket.create_connection((host, parts.port or 80), timeout=TIMEOUT_S) as sock:
            sock.sendall(request)
            chunks, size = [], 0
            while size < MAX_ANSWER and (chunk := sock.recv(16384)):
                chunks.append(chunk)
                size += len(chunk)
    except OSError:
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head.split(b" ", 2)[1:2] != [b"200"]:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _tokens(n: int) -> str:
    return f"{n / 1_000_000:.1f}M" if n >= 1_000_000 else f"{round(n / 1000)}k" if n >= 1000 else str(n)


def render(status: dict[str, Any] | None, claude_model: str | None, colour: bool) -> str:
    """The line, from the proxy's answer (None: the proxy is gone)."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    if status is None:
        return f"{ARROW} ccm proxy not reachable" + (f" · {claude_model}" if claude_model else "")
    seen = bool(status.get("seen"))
    target = status.get("target") if seen else None
    route = status.get("route") if seen else ("pinned" if status.get("pinned") else "default")
    target = target or status.get("default_target")
    if not target:
        return f"{ARROW} ccm · passthrough" + (f" · {claude_model}" if claude_model else "")
    parts = [f"{paint(ARROW, '36')} {route or 'default'} → {paint(str(target), '1;36')}"]
    if seen:
        cost = status.get("cost_usd") or 0.0
        parts.append(f"${cost:.2f}")
        rate = status.get("cache_hit_rate")
        if isinstance(rate, int | float):
            parts.append(f"cache {rate:.0%}")
    used = status.get("context_tokens") if seen else None
    window = status.get("context_window") if seen else status.get("default_window")
    if window:
        share = used / window if isinstance(used, int) else 0
        text = f"ctx {_tokens(used) if isinstance(used, int) else '–'}/{_tokens(window)}"
        parts.append(paint(text, "31" if share >= 0.9 else "33" if share >= 0.7 else "2"))
    return " · ".join(parts)


def _wants_colour(env: os._Environ[str] | dict[str, str]) -> bool:
    return "NO_COLOR" not in env and env.get("TERM", "") not in ("", "dumb")


def run(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    try:
        raw = sys.stdin.buffer.read(MAX_INPUT) if not sys.stdin.isatty() else b""
        payload = json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    session_id = payload.get("session_id") if isinstance(payload.get("session_id"), str) else ""
    model = payload.get("model")
    claude_model = model.get("display_name") if isinstance(model, dict) else None
    base = env.get("ANTHROPIC_BASE_URL", "").rstrip("/")
    url = env.get("CCM_STATUS_URL") or (base + "/ccm/status" if base else "")
    header = token_header(env)
    status = _fetch(url, header, session_id) if url and header else None
    sys.stdout.write(render(status, claude_model if isinstance(claude_model, str) else None,
                            _wants_colour(env)) + "\n")
    return 0
