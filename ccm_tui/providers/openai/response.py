"""OpenAI Chat Completions answer → Anthropic message (pure), plus the shared bits the stream
translator uses: usage and finish_reason mapping, tool-argument repair, error bodies.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from ...errors import BillingError, InvalidRequest, ProxyError, UpstreamUnavailable, error_for_status
from ..blocks import new_message_id
from .presets import THINKING_SIGNATURE
from .think_tags import split_think_tags

_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_ALNUM9 = re.compile(r"[A-Za-z0-9]{9}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CONTEXT = re.compile(
    r"context[_ ]length|context window|maximum context|too many tokens|prompt is too long|reduce the length"
    r"|input is too long|exceeds? the (?:model|maximum)",
    re.I,
)
_LIMIT = re.compile(r"(?:maximum context length|context length|context window|limit)\D{0,25}?(\d[\d,]*)", re.I)
_ASKED = re.compile(r"(?:resulted in|requested|you have|contains|prompt has|input has|got)\D{0,25}?(\d[\d,]*)", re.I)


class InvalidToolArguments(UpstreamUnavailable):
    """The model produced tool arguments that are not a JSON object and cannot be repaired safely."""


def tool_id(upstream_id: Any) -> str:
    """Keep the upstream call id (Claude Code echoes it as tool_use_id); make it Anthropic-legal."""
    if isinstance(upstream_id, str) and upstream_id.strip():
        return _ID_BAD.sub("_", upstream_id.strip())
    return "toolu_" + uuid.uuid4().hex[:24]


def short_tool_id(tool_id: str) -> str:
    """A 9-character alphanumeric id (Mistral accepts no other), the same for the same input."""
    if _ALNUM9.fullmatch(tool_id):
        return tool_id
    number = int.from_bytes(hashlib.sha256(tool_id.encode()).digest()[:8], "big")
    return "".join(_BASE62[(number // 62**i) % 62] for i in range(9))


def shorten_tool_ids(messages: list[dict[str, Any]]) -> None:
    """History ids from other providers (``toolu_…``) made acceptable, calls and results alike."""
    for message in messages:
        for call in message.get("tool_calls") or []:
            call["id"] = short_tool_id(call["id"])
        if message.get("role") == "tool":
            message["tool_call_id"] = short_tool_id(message["tool_call_id"])


# -- tool arguments ------------------------------------------------------------------------------
def repair_json(text: str) -> str | None:
    """Fix single-quoted strings, trailing commas and missing closing brackets; None if that is
    not enough. A text cut inside a string is not completed: guessing its end could change meaning.
    """
    out: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                out.append("'" if (quote == "'" and ch == "'") else "\\" + ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                out.append('"')
                quote = None
            elif ch == '"':
                out.append('\\"')
            elif ch == "\n":
                out.append("\\n")
            else:
                out.append(ch)
        elif ch in "\"'":
            quote = ch
            out.append('"')
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
            out.append(ch)
        elif ch in "}]":
            _drop_trailing_comma(out)
            if stack and stack[-1] == ch:
                stack.pop()
            out.append(ch)
        else:
            out.append(ch)
    if quote:
        return None
    _drop_trailing_comma(out)
    if "".join(out).rstrip().endswith(":"):
        return None
    out.extend(reversed(stack))
    repaired = "".join(out)
    try:
        json.loads(repaired)
    except ValueError:
        return None
    return repaired


def _drop_trailing_comma(out: list[str]) -> None:
    i = len(out) - 1
    while i >= 0 and out[i].isspace():
        i -= 1
    if i >= 0 and out[i] == ",":
        del out[i]


def parse_arguments(raw: Any, tool_name: str = "") -> tuple[dict[str, Any], bool]:
    """Arguments string → (object, repaired?). Raises InvalidToolArguments when unrepairable."""
    if isinstance(raw, dict):
        return raw, False
    text = raw if isinstance(raw, str) else ""
    if not text.strip():
        return {}, False
    try:
        value = json.loads(text)
    except ValueError:
        fixed = repair_json(text.strip())
        value = json.loads(fixed) if fixed is not None else None
        if isinstance(value, dict):
            return value, True
        raise InvalidToolArguments(
            f"the model returned tool arguments for {tool_name or 'a tool'} that are not valid JSON: {text[:200]!r}"
        ) from None
    if value is None:
        return {}, False
    if not isinstance(value, dict):
        raise InvalidToolArguments(f"the model returned tool arguments for {tool_name or 'a tool'} that are not an object")
    return value, False


# -- usage and stop reason -----------------------------------------------------------------------
def map_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """OpenAI usage → Anthropic usage: input excludes cache reads and writes, never negative."""
    u = usage or {}
    details = u.get("prompt_tokens_details") or {}
    prompt = _int(u.get("prompt_tokens"))
    read = _int(details.get("cached_tokens")) or _int(u.get("prompt_cache_hit_tokens")) or _int(
        u.get("cache_read_input_tokens")
    )
    write = _int(details.get("cache_write_tokens")) or _int(details.get("cache_creation_tokens")) or _int(
        u.get("cache_creation_input_tokens")
    )
    return {
        "input_tokens": max(prompt - read - write, 0),
        "output_tokens": _output_tokens(u, prompt),
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    }


def _output_tokens(u: Mapping[str, Any], prompt: int) -> int:
    """completion_tokens includes reasoning on most servers; where the total says it does not
    (xAI: total = prompt + completion + reasoning), reasoning is added back."""
    completion = _int(u.get("completion_tokens"))
    reasoning = _int((u.get("completion_tokens_details") or {}).get("reasoning_tokens"))
    if reasoning and _int(u.get("total_tokens")) == prompt + completion + reasoning:
        return completion + reasoning
    return completion


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def stop_reason(finish: str | None, *, has_tool_use: bool) -> str:
    """finish_reason → stop_reason. content_filter (the provider's filter cut the answer) maps to
    ``refusal``; a model's own ``refusal`` text is not a policy stop (Claude Code would answer it
    with Anthropic's usage-policy notice): it stays text and ends the turn normally.
    ``stop`` after tool calls is ``tool_use`` because that is what the client must do."""
    if finish == "length":
        return "max_tokens"
    if finish == "content_filter":
        return "refusal"
    if has_tool_use:
        return "tool_use"
    return "end_turn"


def matched_stop(choice: Mapping[str, Any], stop_sequences: list[str]) -> str | None:
    """vLLM/SGLang report the matched stop string in ``choice.stop_reason``; OpenAI does not."""
    value = choice.get("stop_reason")
    return value if isinstance(value, str) and value in stop_sequences else None


# -- non-stream response -------------------------------------------------------------------------
def content_pieces(content: Any) -> list[tuple[str, str]]:
    """``content`` (a string or a list of parts) → ``("text" | "thinking", text)`` pieces in order.

    Mistral's reasoning models send thinking as content parts:
    ``{"type": "thinking", "thinking": [{"type": "text", "text": …}]}`` (or a plain string).
    """
    if isinstance(content, str):
        return [("text", content)] if content else []
    pieces: list[tuple[str, str]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "thinking":
            inner = part.get("thinking")
            text = inner if isinstance(inner, str) else "".join(
                p.get("text", "") for p in inner or [] if isinstance(p, dict) and isinstance(p.get("text"), str))
            if text:
                pieces.append(("thinking", text))
        elif isinstance(part.get("text"), str) and part["text"]:
            pieces.append(("text", part["text"]))
    return pieces


def reasoning_of(message: Mapping[str, Any]) -> str:
    for key in ("reasoning_content", "reasoning"):
        if isinstance(message.get(key), str) and message[key]:
            return message[key]
    return ""


def translate_response(
    data: Mapping[str, Any], *, model: str, names: Mapping[str, str] | None = None,
    stop_sequences: list[str] | None = None, think_tags: bool = False,
) -> dict[str, Any]:
    names = names or {}
    choices = data.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = reasoning_of(message)
    pieces = content_pieces(message.get("content"))
    reasoning += "".join(t for kind, t in pieces if kind == "thinking")
    text = "".join(t for kind, t in pieces if kind == "text")
    if think_tags and text:
        inline, text = split_think_tags(text)
        reasoning += inline
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": THINKING_SIGNATURE})
    refusal = message.get("refusal") if isinstance(message.get("refusal"), str) else ""
    if text or refusal:
        content.append({"type": "text", "text": text or refusal})
    calls = list(message.get("tool_calls") or [])
    if not calls and isinstance(message.get("function_call"), dict):
        calls = [{"function": message["function_call"]}]
    for call in calls:
        fn = call.get("function") or {}
        name = names.get(fn.get("name") or "", fn.get("name") or "")
        args, _ = parse_arguments(fn.get("arguments"), name)
        content.append({"type": "tool_use", "id": tool_id(call.get("id")), "name": name, "input": args})
    finish = choice.get("finish_reason")
    has_tools = any(b["type"] == "tool_use" for b in content)
    reason = stop_reason(finish, has_tool_use=has_tools)
    sequence = matched_stop(choice, stop_sequences or []) if reason == "end_turn" else None
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "stop_sequence" if sequence else reason,
        "stop_sequence": sequence,
        "usage": map_usage(data.get("usage")),
    }


def refusal_of(data: Mapping[str, Any]) -> str:
    """The model's own refusal text in a non-stream answer ("" when it did not refuse)."""
    choices = data.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    refusal = message.get("refusal") if isinstance(message, dict) else None
    return refusal if isinstance(refusal, str) else ""


REFUSAL_NOTE = "the model refused; its refusal is answered as text with stop_reason end_turn"


def repaired_calls(data: Mapping[str, Any]) -> int:
    """How many tool calls in a non-stream answer needed argument repair (for the flow notes)."""
    count = 0
    for choice in (data.get("choices") or [])[:1]:
        for call in (choice.get("message") or {}).get("tool_calls") or []:
            try:
                count += parse_arguments((call.get("function") or {}).get("arguments"))[1]
            except InvalidToolArguments:
                pass
    return count


# -- errors --------------------------------------------------------------------------------------
def error_from_openai(status: int, raw: bytes, headers: Mapping[str, str], provider: str) -> ProxyError:
    """OpenAI-style error body → the typed error the client sees."""
    text = raw.decode("utf-8", "replace").strip()
    message, code = text[:300], None
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = None
        if text.startswith("<"):
            message = "upstream returned an HTML error page"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, str):
            message = err
        elif isinstance(err, dict):
            code = err.get("code") or err.get("type")
            found = err.get("message") or err.get("detail") or err.get("msg")
            if isinstance(found, list):  # FastAPI validation errors (vLLM 422)
                found = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in found)
            if found:
                message = str(found)
    message = message or f"HTTP {status}"
    if 400 <= status < 500 and (code == "context_length_exceeded" or _CONTEXT.search(message)):
        return InvalidRequest(_too_long(message, provider))
    if code == "insufficient_quota":
        return BillingError(f"{provider}: {message}")
    return error_for_status(status, f"{provider}: {message}", headers)


def _too_long(message: str, provider: str) -> str:
    limit, asked = _LIMIT.search(message), _ASKED.search(message)
    if limit and asked:
        n, m = asked.group(1).replace(",", ""), limit.group(1).replace(",", "")
        return f"prompt is too long: {n} tokens > {m} maximum ({provider}: {message})"
    return f"prompt is too long ({provider}: {message})"
