"""Gemini ``GenerateContentResponse`` → Anthropic Message, Gemini errors → typed errors (pure).

Also the two small codecs the request side needs back: tool ids that carry Gemini's
``thoughtSignature`` and thinking-block signatures marked ``gemini:``.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
from collections.abc import Mapping
from typing import Any

from ...errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    Overloaded,
    PermissionDenied,
    ProxyError,
    RateLimited,
    UpstreamTimeout,
    error_for_status,
)
from ..blocks import new_message_id
from .grounding import grounding_blocks

#: Thinking blocks produced from Gemini thoughts carry this prefix, so any provider can tell they
#: are foreign to Anthropic (which rejects them) and the Gemini request side can find its own.
SIGNATURE_PREFIX = "gemini:"
#: Google's documented value for a function call whose real signature was lost.
SKIP_SIGNATURE = "skip_thought_signature_validator"

REFUSAL_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"}
)
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,3}")
_ID = re.compile(r"toolu_[0-9a-f]{24}(?:__ci([0-9a-f]+))?(?:__t(s\d|x)_([A-Za-z0-9_-]*))?")


# -- tool ids that carry the thoughtSignature ---------------------------------------------------
def make_tool_id(signature: str | None = None, call_id: str | None = None) -> str:
    """``toolu_<hex>``, then ``__ci<hex>`` with Gemini's own call id (utf-8 as hex), then with a
    signature ``__ts<pad>_<base64url>``.

    Anthropic ids allow only ``[A-Za-z0-9_-]``, so the standard-base64 signature is mapped to the
    URL-safe alphabet (reversibly: the padding count is kept); anything else is base64url-encoded.
    """
    base = "toolu_" + secrets.token_hex(12)
    if call_id:
        base += "__ci" + call_id.encode().hex()
    if not signature:
        return base
    if _B64.fullmatch(signature) and "-" not in signature and "_" not in signature:
        body = signature.rstrip("=")
        pad = len(signature) - len(body)
        return f"{base}__ts{pad}_{body.replace('+', '-').replace('/', '_')}"
    encoded = base64.urlsafe_b64encode(signature.encode()).decode().rstrip("=")
    return f"{base}__tx_{encoded}"


def signature_from_tool_id(tool_id: str) -> str | None:
    match = _ID.fullmatch(tool_id or "")
    if not match or match[2] is None:
        return None
    kind, body = match[2], match[3]
    if kind == "x":
        try:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    return body.replace("-", "+").replace("_", "/") + "=" * int(kind[1:])


def call_id_from_tool_id(tool_id: str) -> str | None:
    """Gemini's own function-call id carried in a tool id made here (None when it gave none)."""
    match = _ID.fullmatch(tool_id or "")
    if not match or match[1] is None:
        return None
    try:
        return bytes.fromhex(match[1]).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def thinking_signature(signature: str | None) -> str:
    return SIGNATURE_PREFIX + (signature or "")


# -- usage and stop reason ----------------------------------------------------------------------
def usage_from(meta: Mapping[str, Any] | None) -> dict[str, int]:
    """input = prompt (+ tool-use prompt) − cached; cache_read = cached; output = candidates + thoughts."""
    meta = meta or {}

    def n(key: str) -> int:
        value = meta.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    cached = n("cachedContentTokenCount")
    return {
        "input_tokens": max(0, n("promptTokenCount") + n("toolUsePromptTokenCount") - cached),
        "output_tokens": n("candidatesTokenCount") + n("thoughtsTokenCount"),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def stop_reason_for(finish: str | None, *, has_tool_use: bool, blocked: bool = False) -> str:
    if blocked or finish in REFUSAL_REASONS:
        return "refusal"
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if has_tool_use:  # Gemini says STOP even when it calls functions
        return "tool_use"
    return "end_turn"  # STOP, LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, unknown


# -- non-stream response ------------------------------------------------------------------------
def function_call_args(call: Mapping[str, Any]) -> dict[str, Any]:
    args = call.get("args")
    return args if isinstance(args, dict) else {}


def gemini_call_id(call: Mapping[str, Any]) -> str | None:
    value = call.get("id")
    return value if isinstance(value, str) and value else None


def content_blocks(parts: list[dict[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Gemini parts → Anthropic blocks, adjacent text (and thought) parts joined."""
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        signature = part.get("thoughtSignature")
        call = part.get("functionCall")
        if isinstance(call, dict) and call.get("name"):
            name = names.get(call["name"], call["name"])
            blocks.append({"type": "tool_use", "id": make_tool_id(signature, gemini_call_id(call)), "name": name,
                           "input": function_call_args(call)})
        elif isinstance(part.get("text"), str):
            if part.get("thought"):
                if blocks and blocks[-1]["type"] == "thinking":
                    blocks[-1]["thinking"] += part["text"]
                    if signature:
                        blocks[-1]["signature"] = thinking_signature(signature)
                else:
                    blocks.append({"type": "thinking", "thinking": part["text"],
                                   "signature": thinking_signature(signature)})
            else:
                if signature:  # Gemini 3 signs text parts too: the signature travels on a thinking block
                    if blocks and blocks[-1]["type"] == "thinking" and blocks[-1]["signature"] == SIGNATURE_PREFIX:
                        blocks[-1]["signature"] = thinking_signature(signature)
                    else:
                        blocks.append({"type": "thinking", "thinking": "", "signature": thinking_signature(signature)})
                if not part["text"]:
                    continue
                if blocks and blocks[-1]["type"] == "text":
                    blocks[-1]["text"] += part["text"]
                else:
                    blocks.append({"type": "text", "text": part["text"]})
    return blocks


def translate_response(
    data: Mapping[str, Any], model: str, names: Mapping[str, str] | None = None, *, grounding: bool = False
) -> dict[str, Any]:
    """A whole ``GenerateContentResponse`` → an Anthropic Message."""
    candidates = data.get("candidates") or []
    candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
    parts = (candidate.get("content") or {}).get("parts") or []
    blocks = content_blocks(parts, names or {})
    blocked = not candidates and bool((data.get("promptFeedback") or {}).get("blockReason"))
    usage: dict[str, Any] = usage_from(data.get("usageMetadata"))
    if grounding:
        blocks, searches = grounding_blocks(blocks, candidate.get("groundingMetadata"))
        if searches:
            usage["server_tool_use"] = {"web_search_requests": searches}
    has_tool_use = any(b["type"] == "tool_use" for b in blocks)
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason_for(candidate.get("finishReason"), has_tool_use=has_tool_use, blocked=blocked),
        "stop_sequence": None,
        "usage": usage,
    }


# -- errors -------------------------------------------------------------------------------------
_BY_GOOGLE_STATUS: dict[str, type[ProxyError]] = {
    "INVALID_ARGUMENT": InvalidRequest,
    "FAILED_PRECONDITION": InvalidRequest,
    "OUT_OF_RANGE": InvalidRequest,
    "UNAUTHENTICATED": AuthenticationFailed,
    "PERMISSION_DENIED": PermissionDenied,
    "NOT_FOUND": NotFound,
    "RESOURCE_EXHAUSTED": RateLimited,
    "UNAVAILABLE": Overloaded,
    "DEADLINE_EXCEEDED": UpstreamTimeout,
}
_TOO_LONG = re.compile(r"input token count \(?(\d+)\)? exceeds the maximum number of tokens allowed \(?(\d+)\)?",
                       re.IGNORECASE)


def parse_gemini_error(provider: str, status: int, raw: bytes, headers: Mapping[str, str]) -> ProxyError:
    """``{"error": {"code", "message", "status", "details"}}`` (or a list of one) → typed error."""
    try:
        data = json.loads(raw.decode("utf-8", "replace") or "null")
    except ValueError:
        data = None
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        text = raw.decode("utf-8", "replace").strip()[:300] or f"HTTP {status}"
        return error_for_status(status, f"{provider}: {text}", headers)
    message = str(err.get("message") or f"HTTP {status}").strip()
    google_status = err.get("status") if isinstance(err.get("status"), str) else ""
    code = err.get("code") if isinstance(err.get("code"), int) else status
    details = [d for d in err.get("details") or [] if isinstance(d, dict)]
    kept = {k.lower(): v for k, v in headers.items() if k.lower() == "retry-after"}

    if any(d.get("reason") == "API_KEY_INVALID" for d in details):
        return AuthenticationFailed(f"{provider}: {message}")
    too_long = _TOO_LONG.search(message)
    if too_long:
        return InvalidRequest(f"prompt is too long: {too_long[1]} tokens > {too_long[2]} maximum ({provider})")
    for detail in details:
        delay = _seconds(detail.get("retryDelay"))
        if delay is not None and "retry-after" not in kept:
            kept["retry-after"] = str(max(1, math.ceil(delay)))
    cls = _BY_GOOGLE_STATUS.get(google_status)
    if cls is None:
        return error_for_status(code if 400 <= code < 600 else status, f"{provider}: {message}", kept)
    return cls(f"{provider}: {message}", headers=kept)


def _seconds(value: Any) -> float | None:
    """Protobuf Duration as JSON (``"37s"``, ``"1.5s"``) → seconds."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None
