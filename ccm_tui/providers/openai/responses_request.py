"""Anthropic Messages request → OpenAI Responses request (pure), for ``api = "responses"``.

Stateless on purpose (``store: false``): every request carries the whole conversation, so
fallbacks, restarts and several proxies behind one client all work. The model's reasoning items
come back as ``reasoning.encrypted_content`` and travel inside the Anthropic thinking block's
signature (see :mod:`.responses_response`); Claude Code sends thinking blocks back verbatim, so the
next request can hand them to the model again, in place, with no store on this side to bound or lose.
The shared Chat pieces (system text, user parts, tool names, effort, user id) are reused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidRequest
from ..websearch import user_query
from .caching import identifier
from .presets import Preset, is_reasoning_model
from .request import (
    Note,
    _clamp_effort,
    _effort,
    _object,
    _part,
    _system_text,
    client_tools,
    stable_user,
    tool_choice,
    upstream_tool_name,
)
from .responses_response import reasoning_item
from .websearch import search_tool

REASONING_INCLUDE = "reasoning.encrypted_content"


@dataclass(slots=True)
class ResponsesRequest:
    payload: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)  # upstream tool name → Anthropic name
    search_query: str | None = None  # set when this is a web search sub-request


def translate_responses_request(
    body: Mapping[str, Any], preset: Preset, *, max_output_tokens: int | None = None, session: str | None = None,
    note: Note | None = None,
) -> ResponsesRequest:
    note = note or (lambda _text: None)
    model = str(body.get("model") or "")
    reasoning_model = is_reasoning_model(preset, model)
    out = ResponsesRequest(payload={"model": model})
    p = out.payload
    instructions = _system_text(body.get("system"), note)
    if instructions:
        p["instructions"] = instructions
    p["input"] = _input(body.get("messages") or [], note)

    search = search_tool(dict(body))
    tools, out.names = _tools([t for t in body.get("tools") or [] if t is not search], note)
    if search is not None:
        out.search_query = user_query(dict(body))
        tools.append(_web_search(search, note))
    if tools:
        p["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"), {t.get("name") for t in tools}, note)
        if choice is not None and search is None:
            p["tool_choice"] = choice
        if _object(body, "tool_choice").get("disable_parallel_tool_use"):
            p["parallel_tool_calls"] = False

    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int):
        if max_output_tokens and max_tokens > max_output_tokens:
            note(f"max_tokens clamped {max_tokens} → {max_output_tokens}")
            max_tokens = max_output_tokens
        p["max_output_tokens"] = max_tokens
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            if reasoning_model:
                note(f"{key} dropped: {model} takes only the default")
            else:
                p[key] = body[key]
    if body.get("stop_sequences"):
        note("stop_sequences dropped: the Responses API has no stop parameter")

    effort = _effort(dict(body))
    if effort and (preset.reasoning_models is None or reasoning_model):
        p["reasoning"] = {"effort": _clamp_effort(effort, preset.effort_levels), "summary": "auto"}
    p["store"] = False
    if "reasoning" in p or reasoning_model:
        p["include"] = [REASONING_INCLUDE]

    user = _object(body, "metadata").get("user_id")
    if preset.send_user and isinstance(user, str) and user:
        p["safety_identifier"] = identifier(stable_user(user))
    if session:
        p["prompt_cache_key"] = identifier(session)

    fmt = _object(body, "output_config").get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        p["text"] = {"format": {"type": "json_schema", "name": "structured_output", "schema": fmt["schema"],
                                "strict": False}}
    if body.get("safeguards"):
        note("safeguards dropped: no classifier on this provider")
    if body.get("stream"):
        p["stream"] = True
    return out


# -- tools ---------------------------------------------------------------------------------------
def _tools(tools: list[Any], note: Note) -> tuple[list[dict[str, Any]], dict[str, str]]:
    functions, names = client_tools(tools, note)
    return [{"type": "function", **fn, "strict": strict_ok(fn["parameters"])} for fn in functions], names


def strict_ok(schema: Any) -> bool:
    """Whether strict mode would accept this schema unchanged: every object closed
    (``additionalProperties: false``) with all its properties required. Strict mode on a schema
    with optional properties would force the model to invent values for them."""
    if isinstance(schema, list):
        return all(strict_ok(s) for s in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or []) != set(props):
            return False
    children = [*(schema.get("properties") or {}).values(), *(schema.get("$defs") or {}).values(),
                schema.get("items"), *(schema.get("anyOf") or [])]
    return all(strict_ok(child) for child in children if child is not None)


def _tool_choice(choice: Any, sent: set[Any], note: Note) -> Any:
    chosen = tool_choice(choice, sent, note)
    return {"type": "function", **chosen} if isinstance(chosen, dict) else chosen


def _web_search(tool: Mapping[str, Any], note: Note) -> dict[str, Any]:
    """The Anthropic ``web_search_*`` server tool → the built-in ``web_search`` tool."""
    out: dict[str, Any] = {"type": "web_search"}
    where = tool.get("user_location")
    if isinstance(where, dict):
        approx = {k: where[k] for k in ("country", "city", "region", "timezone") if isinstance(where.get(k), str)}
        if approx:
            out["user_location"] = {"type": "approximate", **approx}
    allowed = tool.get("allowed_domains")
    if isinstance(allowed, list) and allowed:
        out["filters"] = {"allowed_domains": [str(d) for d in allowed]}
    if tool.get("blocked_domains"):
        note("web search blocked_domains not enforced: the Responses web_search tool has no such filter")
    note("web search via the built-in web_search tool")
    return out


# -- input items ---------------------------------------------------------------------------------
def _content_part(part: dict[str, Any]) -> dict[str, Any]:
    """A Chat content part (from the shared ``_part``) → a Responses input part."""
    if part["type"] == "image_url":
        return {"type": "input_image", "image_url": part["image_url"]["url"], "detail": "auto"}
    return {"type": "input_text", "text": part["text"]}


def _input_part(block: dict[str, Any], note: Note) -> dict[str, Any] | None:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    if block.get("type") == "document" and source.get("type") == "base64" and source.get("media_type") == "application/pdf":
        name = str(block.get("title") or "document.pdf")
        return {"type": "input_file", "filename": name, "file_data": f"data:application/pdf;base64,{source.get('data')}"}
    part = _part(block, note)
    return _content_part(part) if part is not None else None


def _input(messages: list[Any], note: Note) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    dropped = 0
    for msg in messages:
        if not isinstance(msg, dict):
            raise InvalidRequest("messages: each message must be an object")
        role, content = msg.get("role"), msg.get("content")
        if role == "system":
            text = _system_text(content, note)
            if text:
                items.append({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]})
        elif role == "user":
            items.extend(_user(content, note))
        elif role == "assistant":
            assistant, lost = _assistant(content)
            items.extend(assistant)
            dropped += lost
        else:
            raise InvalidRequest(f"messages: unsupported role {role!r}")
    if dropped:
        note(f"dropped {dropped} thinking block(s) this provider did not make")
    _check_calls(items, note)
    return items


def _user(content: Any, note: Note) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": content}]}] if content else []
    outputs: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_result":
            outputs.append(_tool_output(block, note))
        elif (part := _input_part(block, note)) is not None:
            parts.append(part)
    if parts:
        outputs.append({"type": "message", "role": "user", "content": parts})
    return outputs


def _tool_output(block: dict[str, Any], note: Note) -> dict[str, Any]:
    content = block.get("content")
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else []
    for item in content if isinstance(content, list) else []:
        if isinstance(item, dict) and (part := _input_part(item, note)) is not None:
            parts.append(part)
    error = bool(block.get("is_error"))
    output: Any
    if all(p["type"] == "input_text" for p in parts):
        text = "\n".join(p["text"] for p in parts)
        output = (f"Error: {text}" if text else "Error") if error else text
    else:
        output = ([{"type": "input_text", "text": "Error:"}] if error else []) + parts
    return {"type": "function_call_output", "call_id": str(block.get("tool_use_id") or ""), "output": output}


def _assistant(content: Any) -> tuple[list[dict[str, Any]], int]:
    """Assistant turn → reasoning, message and function_call items in their original order."""
    if isinstance(content, str):
        return ([_assistant_text(content)] if content else []), 0
    items: list[dict[str, Any]] = []
    dropped = 0
    for block in content or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            if items and items[-1].get("role") == "assistant":
                items[-1]["content"].append({"type": "output_text", "text": block["text"]})
            else:
                items.append(_assistant_text(block["text"]))
        elif kind == "tool_use":
            items.append({"type": "function_call", "call_id": str(block.get("id") or ""),
                          "name": upstream_tool_name(str(block.get("name") or "")),
                          "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)})
        elif kind in ("thinking", "redacted_thinking"):
            item = reasoning_item(block)
            if item is None:
                dropped += 1
            else:
                items.append(item)
    return items, dropped


def _assistant_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def _check_calls(items: list[dict[str, Any]], note: Note) -> None:
    """Every function_call_output answers an earlier call; a call left unanswered before the
    conversation moves on gets a placeholder output (the API rejects a call without one)."""
    called: dict[str, int] = {}
    answered: set[str] = set()
    for i, item in enumerate(items):
        if item.get("type") == "function_call":
            called[item["call_id"]] = i
        elif item.get("type") == "function_call_output":
            if item["call_id"] not in called:
                raise InvalidRequest(
                    f"messages: tool_result for {item['call_id']!r} has no matching tool_use in the previous assistant turn"
                )
            answered.add(item["call_id"])
    missing = 0
    for cid, i in sorted(called.items(), key=lambda kv: kv[1], reverse=True):
        if cid in answered:
            continue
        j = i + 1
        while j < len(items) and items[j].get("type") in ("function_call", "function_call_output"):
            j += 1
        if j < len(items):  # the conversation went on without this call's result
            items.insert(j, {"type": "function_call_output", "call_id": cid, "output": "(no result: the call was interrupted)"})
            missing += 1
    if missing:
        note(f"{missing} unanswered tool call(s) given a placeholder result")
