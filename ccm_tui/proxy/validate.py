"""Check an incoming Messages / count_tokens body before anything is routed or sent.

Every problem is a 400 ``invalid_request_error`` whose message names the field, as Anthropic
would answer; nothing here trusts the types it was given. Known fields are checked for their type
and enum values; unknown extra keys pass (newer clients send fields this proxy has not met yet).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import InvalidRequest

MAX_TOKENS_LIMIT = 1_000_000
_ROLES = ("user", "assistant", "system")
#: Message-level block types Anthropic accepts; new server tools follow the ``*_tool_use/_result`` naming.
BLOCK_TYPES = frozenset({
    "text", "image", "document", "search_result", "tool_use", "tool_result", "server_tool_use", "thinking",
    "redacted_thinking", "container_upload", "mcp_tool_use", "mcp_tool_result", "tool_reference",
})
_SERVER_BLOCK = re.compile(r"^[a-z][a-z0-9_]*_tool_(use|result)$")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL, C1: never in a model name
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: A \\u escape of a high surrogate not followed by a low one, or of a low one not preceded by a high one.
_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                                    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
TOOL_CHOICE_TYPES = ("auto", "any", "tool", "none")
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
#: source type → the field that carries the content (Anthropic's image and document sources).
IMAGE_SOURCES = {"base64": "data", "url": "url", "file": "file_id"}
DOCUMENT_SOURCES = {"base64": "data", "text": "data", "content": "content", "url": "url", "file": "file_id"}
CACHE_TTLS = ("5m", "1h")


class _NonFinite:
    """Stands in for NaN / Infinity / an overflowing float while parsing, so the error can name the field."""

    def __init__(self, token: str) -> None:
        self.token = token


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("request body is empty: expected a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"request body is not valid UTF-8 (byte {exc.start})") from None
    non_finite: list[str] = []

    def constant(token: str) -> _NonFinite:
        non_finite.append(token)
        return _NonFinite(token)

    def to_float(token: str) -> float | _NonFinite:
        value = float(token)
        return value if math.isfinite(value) else constant(token)

    try:
        body = json.loads(text, parse_constant=constant, parse_float=to_float)
    except RecursionError:
        raise InvalidRequest("request body is nested too deeply") from None
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {type(body).__name__}")
    if non_finite:
        where, token = _find_non_finite(body)
        raise InvalidRequest(f"{where}: {token[:40]} is not a finite number (JSON has no NaN or Infinity)")
    return body


def _find_non_finite(body: dict[str, Any]) -> tuple[str, str]:
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, _NonFinite):
            return where or "(body)", item.token
        if isinstance(item, dict):
            keys = ((k if k.isprintable() else repr(k), v) for k, v in item.items())  # the path goes into a message
            stack.extend((v, f"{where}.{k}" if where else k) for k, v in keys)
        elif isinstance(item, list):
            stack.extend((v, f"{where}.{i}") for i, v in enumerate(item))
    return "(body)", "NaN"


def replace_lone_surrogates(raw: bytes, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Lone UTF-16 surrogates (``"\\ud83d"`` from an emoji cut in tool output; Claude Code sends them)
    cannot be encoded to UTF-8 again: each becomes U+FFFD. Rejecting them would break the
    conversation for good, since the client resends the same history. Returns the count replaced."""
    if not _LONE_SURROGATE_ESCAPE.search(raw):  # one only arrives as a \\u escape; pairs need no walk
        return body, 0
    count = 0

    def fix(value: Any) -> Any:
        nonlocal count
        if isinstance(value, str):
            fixed, n = _SURROGATE.subn("\ufffd", value)
            count += n
            return fixed
        if isinstance(value, dict):
            return {fix(k): fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    fixed = fix(body)
    return (fixed, count) if count else (body, 0)


# -- field checks ----------------------------------------------------------------------------------
def _number(holder: dict[str, Any], name: str, *, integer: bool = False, where: str = "") -> None:
    value = holder.get(name)
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "an integer" if integer else "a number"
        raise InvalidRequest(f"{where}{name}: expected {what}, got {value!r}"[:300])


def _typed(block: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str, what: str) -> None:
    """``block[name]``, when given and not null, is a ``kind`` (a bool only where a bool is wanted)."""
    if name in block and block[name] is not None and (isinstance(block[name], bool) != (kind is bool)
                                                       or not isinstance(block[name], kind)):
        raise InvalidRequest(f"{where}.{name}: expected {what}")


def _required_str(block: dict[str, Any], name: str, where: str) -> None:
    if name not in block:
        raise InvalidRequest(f"{where}.{name}: field required")
    if not isinstance(block[name], str):
        raise InvalidRequest(f"{where}.{name}: expected a string")


def _enum(value: Any, allowed: tuple[str, ...], where: str) -> None:
    if value not in allowed:
        shown = repr(value)[:80]
        raise InvalidRequest(f"{where}: expected one of {', '.join(allowed)}, got {shown}")


def check_model(model: Any, where: str = "model") -> str:
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(f"{where}: field required (a non-empty string)")
    bad = CONTROL_CHARS.search(model)
    if bad:
        raise InvalidRequest(f"{where}: contains a control character (U+{ord(bad.group()):04X})")
    return model


def _source(block: dict[str, Any], where: str, sources: dict[str, str]) -> None:
    source = block.get("source")
    if source is None:
        raise InvalidRequest(f"{where}.source: field required")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{where}.source: expected an object")
    _enum(source.get("type"), tuple(sources), f"{where}.source.type")
    carrier = sources[source["type"]]
    if carrier not in source:
        raise InvalidRequest(f"{where}.source.{carrier}: field required")
    if carrier == "content":
        if not isinstance(source["content"], (str, list)):
            raise InvalidRequest(f"{where}.source.content: expected a string or a list of content blocks")
    elif not isinstance(source[carrier], str):
        raise InvalidRequest(f"{where}.source.{carrier}: expected a string")
    if source["type"] == "base64" and sources is IMAGE_SOURCES:
        _enum(source.get("media_type"), IMAGE_MEDIA_TYPES, f"{where}.source.media_type")


def _block(block: Any, where: str, *, nested: bool = False) -> dict[str, Any]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise InvalidRequest(f"{where}: expected an object with a string `type`")
    kind = block["type"]
    if kind not in BLOCK_TYPES and not _SERVER_BLOCK.match(kind):
        raise InvalidRequest(f"{where}.type: unknown content block type {kind!r}"[:300])
    cache = block.get("cache_control")
    if cache is not None:
        if not isinstance(cache, dict):
            raise InvalidRequest(f"{where}.cache_control: expected an object")
        _enum(cache.get("type"), ("ephemeral",), f"{where}.cache_control.type")
        if "ttl" in cache:
            _enum(cache["ttl"], CACHE_TTLS, f"{where}.cache_control.ttl")
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise InvalidRequest(f"{where}.text: expected a string")
    elif kind == "image":
        _source(block, where, IMAGE_SOURCES)
    elif kind == "document":
        _source(block, where, DOCUMENT_SOURCES)
    elif kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise InvalidRequest(f"{where}: tool_use needs string `id` and `name`")
        _typed(block, "input", dict, where, "an object")
    elif kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise InvalidRequest(f"{where}.tool_use_id: field required")
        _typed(block, "is_error", bool, where, "a boolean")
        content = block.get("content")
        if content is not None and not nested:
            if not isinstance(content, (str, list)):
                raise InvalidRequest(f"{where}.content: expected a string or a list of content blocks")
            for j, inner in enumerate(content if isinstance(content, list) else []):
                _block(inner, f"{where}.content.{j}", nested=True)
    elif kind == "thinking":
        _typed(block, "thinking", str, where, "a string")
        _typed(block, "signature", str, where, "a string")
    elif kind == "redacted_thinking":
        _required_str(block, "data", where)
    return block


def _content_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return []
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: expected a string or a list of content blocks")
    return [_block(block, f"{where}.content.{j}") for j, block in enumerate(content)]


def _check_options(body: dict[str, Any]) -> None:
    """Sampling and control fields: right type, known enum values (Anthropic's answer for each)."""
    for name in ("temperature", "top_p"):
        _number(body, name)
    _number(body, "top_k", integer=True)
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise InvalidRequest("stop_sequences: expected a list of strings")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise InvalidRequest("metadata: expected an object")
        _typed(metadata, "user_id", str, "metadata", "a string")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise InvalidRequest("thinking: expected an object")
        _enum(thinking.get("type"), THINKING_TYPES, "thinking.type")
        budget = thinking.get("budget_tokens")
        if thinking["type"] == "enabled" and budget is None:
            raise InvalidRequest("thinking.budget_tokens: field required when thinking.type is enabled")
        if budget is not None:
            _number(thinking, "budget_tokens", integer=True, where="thinking.")
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict):
            raise InvalidRequest("tool_choice: expected an object")
        _enum(choice.get("type"), TOOL_CHOICE_TYPES, "tool_choice.type")
        if choice["type"] == "tool":
            _required_str(choice, "name", "tool_choice")
        _typed(choice, "disable_parallel_tool_use", bool, "tool_choice", "a boolean")


def validate_request(body: dict[str, Any], *, count_tokens: bool = False) -> None:
    check_model(body.get("model"))
    if not count_tokens:
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise InvalidRequest("max_tokens: field required")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidRequest(f"max_tokens: expected a positive integer, got {max_tokens!r}"[:300])
        if max_tokens > MAX_TOKENS_LIMIT:
            raise InvalidRequest(f"max_tokens: {max_tokens} is above the limit of {MAX_TOKENS_LIMIT}")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise InvalidRequest("stream: expected a boolean")
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("messages: field required")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: expected a non-empty list")
    system = body.get("system")
    if system is not None:
        _content_blocks(system, "system")
    _check_options(body)
    tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where}: expected an object")
        if message.get("role") not in _ROLES:
            raise InvalidRequest(f"{where}.role: expected one of {', '.join(_ROLES)}, got {message.get('role')!r}"
                                 [:300])
        if "content" not in message:
            raise InvalidRequest(f"{where}.content: field required")
        for j, block in enumerate(_content_blocks(message["content"], where)):
            if block["type"] == "tool_use":
                tool_ids.add(block["id"])
            elif block["type"] == "tool_result" and block["tool_use_id"] not in tool_ids:
                raise InvalidRequest(f"{where}.content.{j}: tool_result {block['tool_use_id']!r} has no matching "
                                     "tool_use in an earlier message")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("tools: expected a list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise InvalidRequest(f"tools.{i}: expected an object with a string `name`")
            _typed(tool, "description", str, f"tools.{i}", "a string")
            _typed(tool, "input_schema", dict, f"tools.{i}", "an object")
