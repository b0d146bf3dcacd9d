"""Anthropic Messages request → Gemini ``GenerateContentRequest`` (pure).

Decisions worth knowing:
- ``role: "system"`` messages inside ``messages`` (Claude Code ≥ 2.1.3xx: environment, deferred
  tool list) are folded into ``systemInstruction`` after the top-level system, in order: they
  are instructions, and Gemini's contents allow only user/model turns. The billing line
  ``x-anthropic-billing-header: ...`` is dropped (metadata, not prompt).
- ``thoughtSignature``: read back from the tool_use id (see :func:`make_tool_id`) or from a
  preceding ``gemini:`` thinking signature (a trailing one returns on the last text part); the first function call of a model turn that has none
  gets Google's documented ``skip_thought_signature_validator``. Other thinking blocks are dropped.
- Thinking: ``enabled`` → ``thinkingBudget`` (clamped to ``max_thinking_budget``, default 24576,
  the smallest ceiling of the 2.5 family) with ``includeThoughts``; ``adaptive`` → dynamic budget
  (``-1``) on 2.5, ``thinkingLevel`` from ``output_config.effort`` on Gemini 3+, thoughts included
  unless ``display: "omitted"``; ``disabled`` → nothing (model default). Models before 2.5 get
  no ``thinkingConfig``; ``options.thinking = true|false`` overrides the guess.
- Function responses go in the order of the previous model turn's function calls, not the order
  Claude Code sends the tool_results in (the order the tools finished): Gemini pairs calls and
  responses by position when they carry no ``id``. Gemini's own call id, kept in the tool_use id,
  goes back on both the call and its response.
- Tools marked ``defer_loading`` are declared only once a ``tool_reference`` in the history named
  them (Anthropic's semantics; Claude Code's ``DeferredToolPlaceholder`` is never declared).
- ``web_search_*`` → ``google_search`` grounding, ``web_fetch_*`` → ``url_context``; other
  Anthropic-defined tools without a schema are dropped with a note.
- Dropped: cache_control, metadata, context_management, safeguards, container, mcp_servers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidRequest
from .response import SIGNATURE_PREFIX, SKIP_SIGNATURE, call_id_from_tool_id, signature_from_tool_id
from .schema import clean_parameters, clean_schema

DEFAULT_MAX_OUTPUT = 65536
DEFAULT_MAX_THINKING_BUDGET = 24576
MAX_STOP_SEQUENCES = 5
_NAME_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
_VERSION = re.compile(r"gemini-(\d+(?:\.\d+)?)")
_ANSWERS = "\0tool_use_id"  # private key on functionResponse parts until they are sorted


@dataclass(slots=True)
class GeminiRequest:
    payload: dict[str, Any]
    grounding: bool = False  # google_search requested: answers become web search blocks
    names: dict[str, str] = field(default_factory=dict)  # Gemini function name → Claude tool name
    notes: list[str] = field(default_factory=list)


def build_request(
    body: Mapping[str, Any], model: str, *, max_output: int | None = None, options: Mapping[str, Any] | None = None
) -> GeminiRequest:
    options = options or {}
    out = GeminiRequest(payload={})
    tool_names, call_order = _tool_calls(body)
    referenced = _referenced_tools(body)

    system = _system_texts(body.get("system"))
    contents: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        role = message.get("role")
        if role == "system":
            system.extend(_system_texts(message.get("content")))
            continue
        if role == "assistant":
            parts = _model_parts(message.get("content"), out)
            turn_role = "model"
        else:
            parts = _user_parts(message.get("content"), tool_names, out)
            turn_role = "user"
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn_role, "parts": parts})
    for turn in contents:
        if turn["role"] == "model":
            _ensure_signature(turn["parts"])
        else:  # function responses first, in the order of the calls they answer
            turn["parts"].sort(key=lambda p: call_order.get(_response_key(p), len(call_order)))
            for part in turn["parts"]:
                part.pop(_ANSWERS, None)
    if not contents:
        raise InvalidRequest("messages: at least one user or assistant message with content is required")

    payload = out.payload
    payload["contents"] = contents
    if system:
        payload["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    tools = _tools(body.get("tools") or [], referenced, options, out)
    if tools:
        payload["tools"] = tools
        config = _tool_config(body.get("tool_choice"), out)
        if config:
            payload["toolConfig"] = config
    generation = _generation_config(body, model, max_output, options, out)
    if generation:
        payload["generationConfig"] = generation
    if isinstance(options.get("safety_settings"), list):
        payload["safetySettings"] = options["safety_settings"]
    return out


# -- messages -----------------------------------------------------------------------------------
def _system_texts(system: Any) -> list[str]:
    if isinstance(system, str):
        blocks: list[Any] = [{"type": "text", "text": system}]
    elif isinstance(system, list):
        blocks = system
    else:
        return []
    texts = []
    for block in blocks:
        text = block.get("text") if isinstance(block, dict) else None
        if isinstance(text, str) and text.strip() and not text.startswith("x-anthropic-billing-header:"):
            texts.append(text)
    return texts


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [b for b in content or [] if isinstance(b, dict)]


def _tool_calls(body: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, int]]:
    """tool_use id → name (functionResponse needs the name), and → position among all calls."""
    names: dict[str, str] = {}
    order: dict[str, int] = {}
    for message in body.get("messages") or []:
        if message.get("role") == "assistant":
            for block in _blocks(message.get("content")):
                if block.get("type") == "tool_use":
                    names[block.get("id")] = block.get("name")
                    order.setdefault(block.get("id"), len(order))
    return names, order


def _response_key(part: Mapping[str, Any]) -> str | None:
    """The tool_use id a functionResponse part answers (kept aside while parts are sorted)."""
    return part.get(_ANSWERS) if "functionResponse" in part else None


def _referenced_tools(body: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for message in body.get("messages") or []:
        for block in _blocks(message.get("content")):
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                found.update(b.get("tool_name") for b in block["content"]
                             if isinstance(b, dict) and b.get("type") == "tool_reference")
    return found


def _media_part(block: Mapping[str, Any], out: GeminiRequest) -> dict[str, Any]:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        return {"inlineData": {"mimeType": source.get("media_type", "application/octet-stream"),
                               "data": source.get("data", "")}}
    if kind == "text":  # plain-text document
        return {"text": str(source.get("data", ""))}
    if kind == "url":
        out.notes.append(f"{block.get('type')} given by URL sent as a text reference (not fetched)")
        return {"text": f"[{block.get('type')}: {source.get('url')}]"}
    out.notes.append(f"{block.get('type')} source {kind!r} not supported by Gemini; replaced by a placeholder")
    return {"text": f"[{block.get('type')} omitted]"}


def _tool_result_text(content: Any) -> tuple[str, list[dict[str, Any]]]:
    """tool_result content → its text, plus media blocks that travel as separate parts."""
    if isinstance(content, str):
        return content, []
    texts, media = [], []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_reference":
            texts.append(f"Tool loaded: {block.get('tool_name')}")
        elif kind in ("image", "document"):
            media.append(block)
    return "\n".join(texts), media


def _user_parts(content: Any, tool_names: Mapping[str, str], out: GeminiRequest) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "text":
            if block.get("text"):
                parts.append({"text": block["text"]})
        elif kind in ("image", "document"):
            parts.append(_media_part(block, out))
        elif kind == "tool_result":
            tool_id = block.get("tool_use_id")
            if tool_id not in tool_names:
                raise InvalidRequest(f"tool_result {tool_id!r} has no matching tool_use in an earlier assistant turn")
            text, media = _tool_result_text(block.get("content"))
            response = {"error": text or "error"} if block.get("is_error") else {"result": text}
            function_response: dict[str, Any] = {"name": _gemini_name(tool_names[tool_id]), "response": response}
            call_id = call_id_from_tool_id(str(tool_id))
            if call_id:
                function_response["id"] = call_id
            parts.append({"functionResponse": function_response, _ANSWERS: tool_id})
            parts.extend(_media_part(m, out) for m in media)
        elif kind == "tool_reference":
            parts.append({"text": f"Tool loaded: {block.get('tool_name')}"})
    return parts


def _model_parts(content: Any, out: GeminiRequest) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pending: str | None = None  # a gemini: thinking signature belongs to the next part
    for block in _blocks(content):
        kind = block.get("type")
        part: dict[str, Any] | None = None
        if kind == "thinking":
            signature = block.get("signature") or ""
            if signature.startswith(SIGNATURE_PREFIX) and len(signature) > len(SIGNATURE_PREFIX):
                pending = signature[len(SIGNATURE_PREFIX):]
        elif kind == "text" and block.get("text"):
            part = {"text": block["text"]}
        elif kind == "tool_use":
            args = block.get("input") if isinstance(block.get("input"), dict) else {}
            part = {"functionCall": {"name": _gemini_name(str(block.get("name"))), "args": args}}
            call_id = call_id_from_tool_id(str(block.get("id") or ""))
            if call_id:
                part["functionCall"]["id"] = call_id
            signature = signature_from_tool_id(str(block.get("id") or ""))
            if signature:
                part["thoughtSignature"] = signature
        elif kind in ("server_tool_use", "web_search_tool_result"):
            out.notes.append(f"{kind} in history not sent to Gemini")
        if part is not None:
            if pending and "thoughtSignature" not in part:
                part["thoughtSignature"] = pending
            pending = None
            parts.append(part)
    if pending and parts:  # a signature Gemini put on a last (often empty) text part
        if "text" in parts[-1] and "thoughtSignature" not in parts[-1]:
            parts[-1]["thoughtSignature"] = pending
        else:
            parts.append({"text": "", "thoughtSignature": pending})
    return parts


def _ensure_signature(parts: list[dict[str, Any]]) -> None:
    """Gemini 3 rejects a model turn whose first function call has no signature."""
    calls = [p for p in parts if "functionCall" in p]
    if calls and not any("thoughtSignature" in p for p in calls):
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE


# -- tools --------------------------------------------------------------------------------------
def _gemini_name(name: str) -> str:
    if _NAME_OK.fullmatch(name):
        return name
    fixed = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)
    if not re.match(r"[A-Za-z_]", fixed):
        fixed = "_" + fixed
    return fixed[:64]


def _tools(tools: list[Any], referenced: set[str], options: Mapping[str, Any], out: GeminiRequest) -> list[dict]:
    declarations: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    json_schema = options.get("schema_mode") == "json_schema"
    for tool in tools:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            continue
        kind = str(tool.get("type") or "custom")
        if kind.startswith("web_search"):
            extra.append({"google_search": {}})
            out.grounding = True
            continue
        if kind.startswith("web_fetch"):
            extra.append({"url_context": {}})
            continue
        if kind != "custom" and "input_schema" not in tool:
            out.notes.append(f"tool {tool['name']!r} ({kind}) has no Gemini equivalent; not declared")
            continue
        if tool.get("defer_loading") and tool["name"] not in referenced:
            continue
        name = _gemini_name(tool["name"])
        out.names[name] = tool["name"]
        declaration: dict[str, Any] = {"name": name, "description": str(tool.get("description") or "")}
        schema = tool.get("input_schema")
        if json_schema and isinstance(schema, dict):
            declaration["parametersJsonSchema"] = schema
        else:
            parameters = clean_parameters(schema)
            if parameters is not None:
                declaration["parameters"] = parameters
        declarations.append(declaration)
    result = [{"functionDeclarations": declarations}] if declarations else []
    return result + extra


def _tool_config(choice: Any, out: GeminiRequest) -> dict[str, Any] | None:
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind == "tool":
        name = _gemini_name(str(choice.get("name")))
        if name not in out.names:  # forced server tool (web_search): grounding needs no config
            return None
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    if not out.names:
        return None
    mode = {"auto": "AUTO", "any": "ANY", "none": "NONE"}.get(str(kind))
    return {"functionCallingConfig": {"mode": mode}} if mode else None


# -- generation config --------------------------------------------------------------------------
def _generation_config(
    body: Mapping[str, Any], model: str, max_output: int | None, options: Mapping[str, Any], out: GeminiRequest
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > 0:
        cap = max_output or DEFAULT_MAX_OUTPUT
        if max_tokens > cap:
            out.notes.append(f"max_tokens {max_tokens} clamped to {cap}")
        config["maxOutputTokens"] = min(max_tokens, cap)
    for src, dst in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK")):
        if isinstance(body.get(src), (int, float)) and not isinstance(body.get(src), bool):
            config[dst] = body[src]
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str) and s]
    if stops:
        if len(stops) > MAX_STOP_SEQUENCES:
            out.notes.append(f"stop_sequences cut to the first {MAX_STOP_SEQUENCES} (Gemini's limit)")
        config["stopSequences"] = stops[:MAX_STOP_SEQUENCES]
    output_config = body.get("output_config") if isinstance(body.get("output_config"), dict) else {}
    output_format = output_config.get("format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        if isinstance(output_format.get("schema"), dict):
            config["responseSchema"] = clean_schema(output_format["schema"])
    thinking = _thinking_config(body, model, config.get("maxOutputTokens"), options)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinks(model: str, options: Mapping[str, Any]) -> bool:
    if isinstance(options.get("thinking"), bool):
        return options["thinking"]
    version = _VERSION.search(model)
    if version:
        return float(version[1]) >= 2.5
    return "latest" in model


def _thinking_config(
    body: Mapping[str, Any], model: str, max_output: int | None, options: Mapping[str, Any]
) -> dict[str, Any] | None:
    thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
    kind = thinking.get("type")
    if kind not in ("enabled", "adaptive") or not _thinks(model, options):
        return None
    include = thinking.get("display") != "omitted"
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        budget = budget if isinstance(budget, int) and budget > 0 else 8192
        budget = min(budget, int(options.get("max_thinking_budget") or DEFAULT_MAX_THINKING_BUDGET))
        if max_output and budget >= max_output:
            budget = max(max_output // 2, 1)
        return {"thinkingBudget": budget, "includeThoughts": include}
    version = _VERSION.search(model)
    if version and float(version[1]) >= 3:
        effort = (body.get("output_config") if isinstance(body.get("output_config"), dict) else {}).get("effort")
        return {"thinkingLevel": "low" if effort == "low" else "high", "includeThoughts": include}
    return {"thinkingBudget": -1, "includeThoughts": include}

