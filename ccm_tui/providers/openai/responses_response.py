"""OpenAI Responses answer → Anthropic message (pure), and what the stream translator shares:
reasoning items carried in thinking signatures, usage, stop reason, typed errors.

A reasoning item is kept whole-enough to replay (its id and ``encrypted_content``) in the
signature of the thinking block it becomes: ``ccm:oai-resp:`` + base64url(JSON). A reasoning
item with no summary text becomes a ``redacted_thinking`` block whose ``data`` holds the same.
Both prefixes are foreign to Anthropic, and the Anthropic provider drops such blocks.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ...errors import ProxyError
from ..blocks import new_message_id
from .response import error_from_openai, map_usage, parse_arguments, stop_reason, tool_id

REASONING_PREFIX = "ccm:oai-resp:"
_ERROR_STATUS = {
    "rate_limit_exceeded": 429, "insufficient_quota": 429, "server_error": 500, "server_is_overloaded": 529,
    "invalid_prompt": 400, "context_length_exceeded": 400, "invalid_request_error": 400,
}


# -- reasoning items <-> thinking blocks ---------------------------------------------------------
def encode_reasoning(item: Mapping[str, Any]) -> str:
    kept = {k: item[k] for k in ("id", "encrypted_content") if isinstance(item.get(k), str) and item[k]}
    raw = json.dumps(kept, separators=(",", ":")).encode()
    return REASONING_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_reasoning(value: Any) -> dict[str, str] | None:
    if not isinstance(value, str) or not value.startswith(REASONING_PREFIX):
        return None
    text = value[len(REASONING_PREFIX):]
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("encrypted_content"), str) else None


def reasoning_item(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """A thinking/redacted_thinking block this provider made → the reasoning input item; None for
    any other (Anthropic's, Gemini's, the Chat path's: they mean nothing to this model)."""
    kept = decode_reasoning(block.get("signature") if block.get("type") == "thinking" else block.get("data"))
    if kept is None:
        return None
    text = block.get("thinking") if block.get("type") == "thinking" else None
    item: dict[str, Any] = {"type": "reasoning"}
    if kept.get("id"):
        item["id"] = kept["id"]
    item["summary"] = [{"type": "summary_text", "text": text}] if isinstance(text, str) and text else []
    item["encrypted_content"] = kept["encrypted_content"]
    return item


def reasoning_block(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """A finished reasoning output item → thinking (summary text) or redacted_thinking (none)."""
    text = summary_text(item)
    if not isinstance(item.get("encrypted_content"), str):
        return {"type": "thinking", "thinking": text, "signature": REASONING_PREFIX} if text else None
    signature = encode_reasoning(item)
    if text:
        return {"type": "thinking", "thinking": text, "signature": signature}
    return {"type": "redacted_thinking", "data": signature}


def summary_text(item: Mapping[str, Any]) -> str:
    parts = [p.get("text") for p in item.get("summary") or [] if isinstance(p, dict)]
    if not any(parts):  # open-weight servers send the raw reasoning as content instead
        parts = [p.get("text") for p in item.get("content") or [] if isinstance(p, dict)]
    return "\n\n".join(p for p in parts if isinstance(p, str) and p)


# -- usage, stop reason, errors ------------------------------------------------------------------
def responses_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """input_tokens (includes cached) / output_tokens (includes reasoning) → Anthropic usage."""
    u = usage or {}
    details = u.get("input_tokens_details") if isinstance(u.get("input_tokens_details"), dict) else {}
    return map_usage({"prompt_tokens": u.get("input_tokens"), "completion_tokens": u.get("output_tokens"),
                      "prompt_tokens_details": details})


def responses_stop(response: Mapping[str, Any], *, has_tool_use: bool) -> str:
    """A model's own refusal is text that ends the turn (see ``stop_reason``); only a
    content filter is a ``refusal``."""
    finish = None
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        finish = {"max_output_tokens": "length", "content_filter": "content_filter"}.get(str(reason))
    return stop_reason(finish, has_tool_use=has_tool_use)


def responses_error(err: Any, provider: str) -> ProxyError:
    """``response.error`` or an ``error`` event's body → the typed error the client sees."""
    err = dict(err) if isinstance(err, Mapping) else {"message": str(err or "response failed")}
    err.pop("sequence_number", None)
    code = err.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else _ERROR_STATUS.get(str(code), 500)
    if "type" in err and err["type"] == "error":
        err.pop("type")
    return error_from_openai(status, json.dumps({"error": err}).encode(), {}, provider)


# -- non-stream ----------------------------------------------------------------------------------
def url_citation(annotation: Any, offset: int = 0) -> dict[str, Any] | None:
    """A Responses ``url_citation`` annotation (flat) → the Chat path's citation shape."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    url = annotation.get("url")
    if not isinstance(url, str) or not url:
        return None
    start, end = annotation.get("start_index"), annotation.get("end_index")
    return {"url": url, "title": annotation.get("title"),
            "start_index": start + offset if isinstance(start, int) else None,
            "end_index": end + offset if isinstance(end, int) else None}


def search_query(item: Mapping[str, Any]) -> str | None:
    action = item.get("action") if isinstance(item.get("action"), dict) else {}
    query = action.get("query")
    return query if isinstance(query, str) and query else None


def translate_responses_response(
    data: Mapping[str, Any], *, model: str, names: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """(Anthropic message, url citations, the search query the model ran) of a finished response."""
    names = names or {}
    content: list[dict[str, Any]] = []
    cited: list[dict[str, Any]] = []
    query: str | None = None
    for item in data.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            if (block := reasoning_block(item)) is not None:
                content.append(block)
        elif kind == "message":  # one text block per message item, as in the stream
            fresh = True
            for part in item.get("content") or []:
                if not isinstance(part, dict):
                    continue
                text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
                if not isinstance(text, str) or not text:
                    continue
                if fresh:
                    content.append({"type": "text", "text": ""})
                    fresh = False
                offset = len(content[-1]["text"])
                cited.extend(c for a in part.get("annotations") or [] if (c := url_citation(a, offset)))
                content[-1]["text"] += text
        elif kind == "function_call":
            name = str(item.get("name") or "")
            name = names.get(name, name)
            args, _ = parse_arguments(item.get("arguments"), name)
            content.append({"type": "tool_use", "id": tool_id(item.get("call_id") or item.get("id")),
                            "name": name, "input": args})
        elif kind == "web_search_call":
            query = search_query(item) or query
    has_tools = any(b["type"] == "tool_use" for b in content)
    message = {
        "id": new_message_id(), "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": responses_stop(data, has_tool_use=has_tools), "stop_sequence": None,
        "usage": responses_usage(data.get("usage")),
    }
    return message, cited, query


def refused_in(data: Mapping[str, Any]) -> bool:
    """The model's own refusal is among a finished response's message parts."""
    return any(isinstance(part, dict) and part.get("type") == "refusal"
               for item in data.get("output") or [] if isinstance(item, dict) and item.get("type") == "message"
               for part in item.get("content") or [])


def repaired_calls(data: Mapping[str, Any]) -> int:
    """How many function calls of a finished response needed argument repair (for the notes)."""
    count = 0
    for item in data.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "function_call":
            try:
                count += parse_arguments(item.get("arguments"))[1]
            except ProxyError:
                pass
    return count
