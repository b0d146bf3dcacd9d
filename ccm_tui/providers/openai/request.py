"""Anthropic Messages request → OpenAI Chat Completions request (pure).

``translate_request`` returns the payload and the tool-name map (upstream name → Anthropic name)
that the response side uses to restore names shortened here. Everything the target cannot take
is left out on purpose: the payload is built from an allow-list, never by copying the body.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidRequest
from .caching import identifier, keep_breakpoints, marks_breakpoints
from .presets import Preset, is_reasoning_model
from .response import shorten_tool_ids
from .websearch import SearchPlan, apply_search

_TOOL_NAME_OK = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_BILLING_PREFIX = "x-anthropic-billing-header:"
_EFFORT_ORDER = ("minimal", "low", "medium", "high", "xhigh", "max")
MAX_STOP = 4
MAX_USER = 128


def upstream_tool_name(name: str) -> str:
    """A name OpenAI accepts (``^[a-zA-Z0-9_-]{1,64}$``); stable, so history and tools agree."""
    if _TOOL_NAME_OK.match(name):
        return name
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:55] or "tool"
    return f"{cleaned}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional object field; any other type (a client bug the validator lets by) counts as absent."""
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def stable_user(user_id: str) -> str:
    if len(user_id) <= MAX_USER:
        return user_id
    return "user_" + hashlib.sha256(user_id.encode()).hexdigest()[:40]


@dataclass(slots=True)
class Limits:
    """Output caps that apply to this request (provider cap, per-model limit)."""

    max_tokens_cap: int | None = None
    max_output_tokens: int | None = None


@dataclass(slots=True)
class Translated:
    payload: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)  # upstream tool name → Anthropic name
    stop_sequences: list[str] = field(default_factory=list)


Note = Callable[[str], None]


def translate_request(
    body: dict[str, Any], preset: Preset, *, limits: Limits | None = None, note: Note | None = None,
    search: SearchPlan | None = None, session: str | None = None,
) -> Translated:
    note = note or (lambda _text: None)
    model = str(body.get("model") or "")
    reasoning_model = is_reasoning_model(preset, model)
    out = Translated(payload={"model": model})
    p = out.payload

    tools, names = _tools([t for t in body.get("tools") or [] if search is None or t is not search.tool], note)
    out.names = names
    p["messages"] = _messages(body, preset, note)
    if preset.short_tool_ids:
        shorten_tool_ids(p["messages"])
    if tools:
        p["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"), {t["function"]["name"] for t in tools}, note)
        if choice is not None:
            p["tool_choice"] = choice
        if _object(body, "tool_choice").get("disable_parallel_tool_use"):
            p["parallel_tool_calls"] = False
    elif body.get("tool_choice") and search is None:
        note("tool_choice dropped: no function tools left")

    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int):
        caps = [c for c in (limits.max_tokens_cap, limits.max_output_tokens) if c] if limits else []
        if caps and max_tokens > min(caps):
            note(f"max_tokens clamped {max_tokens} → {min(caps)}")
            max_tokens = min(caps)
        p["max_completion_tokens" if reasoning_model else "max_tokens"] = max_tokens
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            if reasoning_model:
                note(f"{key} dropped: {model} takes only the default")
            else:
                p[key] = body[key]
    if body.get("top_k") is not None:
        if preset.top_k:
            p["top_k"] = body["top_k"]
        else:
            note("top_k dropped: not accepted by this server")
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str) and s]
    if stops:
        if len(stops) > MAX_STOP:
            note(f"stop_sequences truncated {len(stops)} → {MAX_STOP}")
        out.stop_sequences = stops[:MAX_STOP]
        p["stop"] = out.stop_sequences

    effort = _effort(body)
    if effort and preset.effort_style and (preset.reasoning_models is None or reasoning_model):
        level = _clamp_effort(effort, preset.effort_levels)
        if preset.effort_style == "openrouter":
            p["reasoning"] = {"effort": level}
        else:
            p["reasoning_effort"] = level

    user = _object(body, "metadata").get("user_id")
    if preset.send_user and isinstance(user, str) and user:
        p["user"] = stable_user(user)
    if preset.prompt_cache_key and session:
        p["prompt_cache_key"] = identifier(session)
    if marks_breakpoints(preset, model):
        keep_breakpoints(p["messages"], body)

    fmt = _object(body, "output_config").get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        p["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "structured_output", "schema": fmt["schema"], "strict": False},
        }
    if body.get("safeguards"):
        note("safeguards dropped: no classifier on this provider")

    if search is not None:
        apply_search(p, search, note)
    if body.get("stream"):
        p["stream"] = True
        if preset.stream_usage:
            p["stream_options"] = {"include_usage": True}
    return out


# -- tools ---------------------------------------------------------------------------------------
def client_tools(tools: list[Any], note: Note) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The client tools as ``{name, parameters[, description]}`` with upstream-safe names and JSON
    schemas (both wire formats wrap them their own way), and upstream name → Anthropic name where
    they differ. Server tools are noted and left out: the target cannot run them."""
    out, names = [], {}
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        if kind not in (None, "custom"):
            note(f"server tool {tool.get('name') or kind} ({kind}) not sent: the target cannot run it")
            continue
        name = str(tool.get("name") or "")
        short = upstream_tool_name(name)
        if short != name:
            names[short] = name
        schema = dict(tool.get("input_schema") or {})
        schema.pop("$schema", None)
        schema.setdefault("type", "object")
        if schema["type"] == "object":
            schema.setdefault("properties", {})
        fn: dict[str, Any] = {"name": short, "parameters": schema}
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append(fn)
    return out, names


def _tools(tools: list[dict[str, Any]], note: Note) -> tuple[list[dict[str, Any]], dict[str, str]]:
    functions, names = client_tools(tools, note)
    return [{"type": "function", "function": fn} for fn in functions], names


def tool_choice(choice: Any, sent: set[Any], note: Note) -> str | dict[str, str] | None:
    """Anthropic ``tool_choice`` → ``"auto"``/``"required"``/``"none"``, or ``{"name": …}`` for one
    function tool (each wire format wraps it its own way); None when the client set none."""
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool" and choice.get("name"):
        short = upstream_tool_name(choice["name"])
        if short not in sent:
            note(f"tool_choice {choice['name']} is not a function tool here: left to the model")
            return "auto"
        return {"name": short}
    return "auto"


def _tool_choice(choice: Any, sent: set[str], note: Note) -> Any:
    chosen = tool_choice(choice, sent, note)
    return {"type": "function", "function": chosen} if isinstance(chosen, dict) else chosen


def _effort(body: dict[str, Any]) -> str | None:
    thinking = _object(body, "thinking")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens") or 0
        return "low" if budget < 4096 else "medium" if budget < 16384 else "high"
    if kind == "adaptive":
        return _object(body, "output_config").get("effort") or "medium"
    return None


def _clamp_effort(effort: str, levels: tuple[str, ...]) -> str:
    if effort in levels:
        return effort
    rank = _EFFORT_ORDER.index(effort) if effort in _EFFORT_ORDER else 2
    below = [lvl for lvl in levels if lvl in _EFFORT_ORDER and _EFFORT_ORDER.index(lvl) <= rank]
    return below[-1] if below else levels[0]


# -- messages ------------------------------------------------------------------------------------
def _system_text(system: Any, note: Note) -> str:
    if isinstance(system, str):
        return system
    parts = []
    for block in system or []:
        if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
            if block["text"].startswith(_BILLING_PREFIX):
                continue  # Claude Code's per-build header: noise for other models, breaks prefix caches
            parts.append(block["text"])
        elif isinstance(block, dict):
            note(f"system block of type {block.get('type')} dropped")
    return "\n\n".join(parts)


def _messages(body: dict[str, Any], preset: Preset, note: Note) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    lead_system = _system_text(body.get("system"), note)
    late_system: list[str] = []
    dropped_thinking = 0
    for msg in body.get("messages") or []:
        role, content = msg.get("role"), msg.get("content")
        if role == "system":
            text = _system_text(content, note)
            if not text:
                continue
            if preset.mid_system == "merge":
                late_system.append(text)
            else:
                out.append({"role": "system", "content": text})
        elif role == "user":
            out.extend(_user(content, note))
        elif role == "assistant":
            assistant, dropped = _assistant(content, preset)
            dropped_thinking += dropped
            if assistant is not None:
                out.append(assistant)
        else:
            raise InvalidRequest(f"messages: unsupported role {role!r}")
    if dropped_thinking:
        note(f"dropped {dropped_thinking} thinking block{'s' if dropped_thinking > 1 else ''}")
    system = "\n\n".join(t for t in (lead_system, *late_system) if t)
    if system:
        out.insert(0, {"role": "system", "content": system})
    _check_tool_pairs(out, note)
    return out


def _image_part(source: dict[str, Any]) -> dict[str, Any] | None:
    if source.get("type") == "base64":
        return {"type": "image_url", "image_url": {"url": f"data:{source.get('media_type')};base64,{source.get('data')}"}}
    if source.get("type") == "url":
        return {"type": "image_url", "image_url": {"url": source.get("url")}}
    return None


def _part(block: dict[str, Any], note: Note) -> dict[str, Any] | None:
    """One user-side content block → an OpenAI content part (None: nothing to send)."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")} if block.get("text") else None
    if kind == "image":
        part = _image_part(block.get("source") or {})
        if part is None:
            note("image with an unsupported source dropped")
        return part
    if kind == "tool_reference":
        return {"type": "text", "text": f"Tool {block.get('tool_name')} loaded: it can be called now."}
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return {"type": "text", "text": source.get("data", "")}
        note(f"document ({source.get('media_type') or source.get('type')}) replaced by a placeholder")
        title = block.get("title") or "document"
        return {"type": "text", "text": f"[{title} omitted: this model cannot read it]"}
    if isinstance(block.get("text"), str):  # search_result-like blocks that carry text
        return {"type": "text", "text": block["text"]} if block["text"] else None
    note(f"content block of type {kind} dropped")
    return None


def _flatten(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content as one string: the most widely accepted form."""
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _user(content: Any, note: Note) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_msgs: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    moved_images: list[dict[str, Any]] = []
    for block in content or []:
        if block.get("type") == "tool_result":
            msg, images = _tool_result(block, note)
            tool_msgs.append(msg)
            moved_images.extend(images)
        else:
            part = _part(block, note)
            if part is not None:
                parts.append(part)
    if moved_images:
        note("tool_result images moved to a follow-up user message")
    parts = moved_images + parts
    out = tool_msgs
    if parts:
        out = [*out, {"role": "user", "content": _flatten(parts)}]
    return out


def _tool_result(block: dict[str, Any], note: Note) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    for item in content if isinstance(content, list) else []:
        part = _part(item, note)
        if part is None:
            continue
        if part["type"] == "text":
            texts.append(part["text"])
        else:
            images.append(part)
    tool_id = str(block.get("tool_use_id") or "")
    if images:
        images = [{"type": "text", "text": f"Image(s) returned by tool call {tool_id}:"}, *images]
        texts.append(f"[{len(images) - 1} image(s) follow in the next user message]")
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": tool_id, "content": text}, images


def _assistant(content: Any, preset: Preset) -> tuple[dict[str, Any] | None, int]:
    if isinstance(content, str):
        return ({"role": "assistant", "content": content} if content else None), 0
    texts, calls, thoughts, dropped = [], [], [], 0
    for block in content or []:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append({
                "id": str(block.get("id") or ""),
                "type": "function",
                "function": {
                    "name": upstream_tool_name(str(block.get("name") or "")),
                    "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
                },
            })
        elif kind == "thinking" and preset.echo_reasoning and block.get("thinking"):
            thoughts.append(block["thinking"])
        elif kind in ("thinking", "redacted_thinking"):
            dropped += 1
    msg: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) if texts else None}
    if calls:
        msg["tool_calls"] = calls
    if thoughts and preset.echo_reasoning:
        msg[preset.echo_reasoning] = "\n\n".join(thoughts)
    if msg["content"] is None and not calls:
        if not thoughts:
            return None, dropped
        msg["content"] = ""
    return msg, dropped


def _check_tool_pairs(messages: list[dict[str, Any]], note: Note) -> None:
    """Every tool_calls id answered right after its assistant turn; no orphan tool messages."""
    i = 0
    while i < len(messages):
        msg = messages[i]
        if msg["role"] == "tool":
            raise InvalidRequest(
                f"messages: tool_result for {msg['tool_call_id']!r} has no matching tool_use in the previous assistant turn"
            )
        if msg["role"] != "assistant" or not msg.get("tool_calls"):
            i += 1
            continue
        wanted = [c["id"] for c in msg["tool_calls"]]
        j = i + 1
        seen = []
        while j < len(messages) and messages[j]["role"] == "tool":
            if messages[j]["tool_call_id"] not in wanted:
                raise InvalidRequest(
                    f"messages: tool_result for {messages[j]['tool_call_id']!r} has no matching tool_use"
                )
            seen.append(messages[j]["tool_call_id"])
            j += 1
        missing = [t for t in wanted if t not in seen]
        if missing and j < len(messages):
            for tool_id in missing:
                messages.insert(j, {"role": "tool", "tool_call_id": tool_id, "content": "(no result: the call was interrupted)"})
                j += 1
            note(f"{len(missing)} unanswered tool call(s) given a placeholder result")
        i = j
