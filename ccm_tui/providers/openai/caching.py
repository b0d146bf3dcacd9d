"""What makes a provider's prompt cache work for a Claude Code conversation (pure functions).

A session-stable ``prompt_cache_key`` keeps one conversation's requests on the cache that holds its
prefix (OpenAI's Chat and Responses APIs); OpenRouter's Anthropic and Gemini models cache only where
the request marks a breakpoint with ``cache_control``, as Claude Code marks them for Anthropic.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from .presets import Preset

MAX_IDENTIFIER = 64  # OpenAI caps safety_identifier and prompt_cache_key at 64 characters
EPHEMERAL = {"type": "ephemeral"}


def identifier(value: str) -> str:
    """``value`` as an OpenAI identifier: longer ones become a stable hash."""
    return value if len(value) <= MAX_IDENTIFIER else "ccm_" + hashlib.sha256(value.encode()).hexdigest()[:40]


def session_key(body: Mapping[str, Any], session_header: str | None) -> str | None:
    """What stays the same for a whole conversation: Claude Code's session id header, else the
    session part of ``metadata.user_id``. None when neither is there (no cache key is better
    than one that changes every turn)."""
    if session_header:
        return "ccm-" + session_header
    metadata = body.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user, str) and user:
        try:
            parsed = json.loads(user)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
            return "ccm-" + parsed["session_id"]
        _, marker, tail = user.partition("_session_")
        if marker and tail:
            return "ccm-" + tail
    return None


def marks_breakpoints(preset: Preset, model: str) -> bool:
    return bool(preset.cache_control_models and re.search(preset.cache_control_models, model))


def keep_breakpoints(messages: list[dict[str, Any]], body: Mapping[str, Any]) -> None:
    """Carry Claude Code's cache breakpoints into translated Chat messages (in place).

    Claude Code marks the system prompt and the newest user turn. The system message and the last
    user or tool message get the marker on their last text part (string content becomes parts);
    nothing is marked that the client did not mark.
    """
    system = body.get("system")
    if isinstance(system, list) and any(_marked(b) for b in system) and messages and messages[0]["role"] == "system":
        _mark_last_text(messages[0])
    turns = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    content = turns[-1].get("content") if turns else None
    if isinstance(content, list) and any(_marked(b) for b in content):
        tail = next((m for m in reversed(messages) if m["role"] in ("user", "tool")), None)
        if tail is not None:
            _mark_last_text(tail)


def _marked(block: Any) -> bool:
    return isinstance(block, dict) and isinstance(block.get("cache_control"), dict)


def _mark_last_text(message: dict[str, Any]) -> None:
    content = message.get("content")
    if isinstance(content, str):
        if content:
            message["content"] = [{"type": "text", "text": content, "cache_control": EPHEMERAL}]
        return
    for part in reversed(content or []):
        if isinstance(part, dict) and part.get("type") == "text":
            part["cache_control"] = EPHEMERAL
            return
