"""Check an incoming Messages / count_tokens body before anything is routed or sent.

Every problem is a 400 ``invalid_request_error`` whose message names the field, as Anthropic
would answer; nothing here trusts the types it was given.
"""

from __future__ import annotations

import json
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


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("request body is empty: expected a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise InvalidRequest("request body is nested too deeply") from None
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {type(body).__name__}")
    return body


def _content_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return []
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: expected a string or a list of content blocks")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise InvalidRequest(f"{where}.content.{j}: expected an object with a string `type`")
        if block["type"] not in BLOCK_TYPES and not _SERVER_BLOCK.match(block["type"]):
            raise InvalidRequest(f"{where}.content.{j}.type: unknown content block type {block['type']!r}")
    return content


def validate_request(body: dict[str, Any], *, count_tokens: bool = False) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("model: field required (a non-empty string)")
    if not count_tokens:
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise InvalidRequest("max_tokens: field required")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidRequest(f"max_tokens: expected a positive integer, got {max_tokens!r}")
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
    tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where}: expected an object")
        if message.get("role") not in _ROLES:
            raise InvalidRequest(f"{where}.role: expected one of {', '.join(_ROLES)}, got {message.get('role')!r}")
        if "content" not in message:
            raise InvalidRequest(f"{where}.content: field required")
        for j, block in enumerate(_content_blocks(message["content"], where)):
            kind = block["type"]
            if kind == "tool_use":
                if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                    raise InvalidRequest(f"{where}.content.{j}: tool_use needs string `id` and `name`")
                tool_ids.add(block["id"])
            elif kind == "tool_result":
                ref = block.get("tool_use_id")
                if not isinstance(ref, str):
                    raise InvalidRequest(f"{where}.content.{j}.tool_use_id: field required")
                if ref not in tool_ids:
                    raise InvalidRequest(
                        f"{where}.content.{j}: tool_result {ref!r} has no matching tool_use in an earlier message"
                    )
            elif kind == "text" and not isinstance(block.get("text"), str):
                raise InvalidRequest(f"{where}.content.{j}.text: expected a string")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("tools: expected a list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise InvalidRequest(f"tools.{i}: expected an object with a string `name`")
