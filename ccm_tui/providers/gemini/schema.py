"""JSON Schema (as Claude Code sends it) → the OpenAPI-3.0 subset Gemini's ``parameters`` accepts.

Gemini rejects the whole request on one unknown key ("Invalid JSON payload received. Unknown
name ..."), so this is an allow-list: only the fields of Gemini's ``Schema`` message survive, and
the JSON Schema idioms it lacks are rewritten where meaning can be kept:

- ``$ref`` → inlined from ``$defs``/``definitions`` (recursion cut after a few levels);
- ``type: ["string", "null"]`` → ``type: "string", nullable: true``; an ``anyOf`` null branch likewise;
- ``const: v`` → ``enum: [v]``; enums only on strings (values stringified, type forced to string);
- ``format`` only ``enum`` / ``date-time`` on strings (``uri``, ``email``, ... dropped);
- ``properties``/``required`` only on objects, ``items`` only on arrays; ``required`` names only
  existing properties; every node gets a type (guessed from its keywords, else string);
- ``anyOf`` of string enums merged into one enum.

``default``, ``examples``, ``pattern`` and numeric-only keywords Gemini lacks are dropped: they
are hints, and each is a reported source of 400s on some model version.
"""

from __future__ import annotations

import json
from typing import Any

_KEEP = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
     "required", "minProperties", "maxProperties", "minLength", "maxLength", "anyOf", "items",
     "minimum", "maximum", "propertyOrdering"}
)
_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})
_STRING_FORMATS = frozenset({"enum", "date-time"})
_MAX_REF_DEPTH = 4


def clean_parameters(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """A tool's ``input_schema`` → Gemini ``parameters``, or None for a tool without arguments.

    Gemini (older models) rejects an OBJECT whose ``properties`` is empty, so no-arg tools send none.
    """
    if not isinstance(schema, dict):
        return None
    cleaned = clean_schema(schema)
    if cleaned.get("type") == "object" and not cleaned.get("properties"):
        return None
    return cleaned


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update({f"#/{key}/{name}": value for name, value in schema[key].items()})
    return _clean(schema, defs, 0)


def _resolve(node: dict[str, Any], defs: dict[str, Any], depth: int) -> tuple[dict[str, Any], int]:
    while isinstance(node.get("$ref"), str):
        target = defs.get(node["$ref"])
        if not isinstance(target, dict) or depth >= _MAX_REF_DEPTH:
            # Unknown or too deep: keep only what describes it.
            return {k: v for k, v in node.items() if k in ("description", "title")}, depth
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        depth += 1
    return node, depth


def _clean(node: Any, defs: dict[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {"type": "string"}
    node, depth = _resolve(node, defs, depth)
    out: dict[str, Any] = {}
    nullable = bool(node.get("nullable"))

    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        nullable = nullable or len(kinds) < len(kind)
        kind = kinds[0] if kinds else None
        if len(kinds) > 1:  # ["string", "number"]: Gemini has no unions of types outside anyOf
            out["anyOf"] = [_clean({**node, "type": k}, defs, depth) for k in kinds]
            kind = None
    if kind not in _TYPES:
        kind = None

    enum = node.get("enum")
    if "const" in node:
        enum = [node["const"]]

    if "anyOf" in node or "oneOf" in node:
        branches = [b for b in (node.get("anyOf") or node.get("oneOf") or []) if isinstance(b, dict)]
        if any(b.get("type") == "null" for b in branches):
            nullable = True
            branches = [b for b in branches if b.get("type") != "null"]
        cleaned = [_clean(b, defs, depth) for b in branches]
        merged = _merge_string_enums(cleaned)
        if merged is not None:
            kind, enum = "string", merged
        elif len(cleaned) == 1:
            single = {k: v for k, v in cleaned[0].items() if k != "description" or "description" not in node}
            out.update(single)
            kind = single.get("type", kind)
        elif cleaned:
            out["anyOf"] = cleaned
    elif isinstance(node.get("allOf"), list):
        merged_node: dict[str, Any] = {}
        for part in node["allOf"]:
            if isinstance(part, dict):
                part, _ = _resolve(part, defs, depth)
                for key, value in part.items():
                    if key == "properties" and isinstance(value, dict):
                        merged_node.setdefault("properties", {}).update(value)
                    elif key == "required" and isinstance(value, list):
                        merged_node.setdefault("required", []).extend(value)
                    else:
                        merged_node.setdefault(key, value)
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return _clean({**merged_node, **rest}, defs, depth)

    if "anyOf" in out:
        kind = None  # a typed node beside anyOf is ambiguous to Gemini; the branches carry the types
    elif kind is None:
        kind = _guess_type(node, enum)

    if enum is not None and isinstance(enum, list):
        values = [v if isinstance(v, str) else json.dumps(v) for v in enum if v is not None]
        nullable = nullable or len(values) < len(enum)
        if values:
            kind = "string"
            out["enum"] = values

    if kind is not None:
        out["type"] = kind
    for key in ("title", "description"):
        if isinstance(node.get(key), str):
            out[key] = node[key]
    if nullable:
        out["nullable"] = True

    if kind == "string":
        fmt = node.get("format")
        if fmt in _STRING_FORMATS and (fmt != "enum" or out.get("enum")):
            out["format"] = fmt
        for key in ("minLength", "maxLength"):
            _copy_int(node, out, key)
    elif kind in ("number", "integer"):
        for key in ("minimum", "maximum"):
            if isinstance(node.get(key), (int, float)) and not isinstance(node.get(key), bool):
                out[key] = node[key]
        if kind == "integer" and node.get("format") in ("int32", "int64"):
            out["format"] = node["format"]
    elif kind == "array":
        out["items"] = _clean(node.get("items", {}), defs, depth) if isinstance(node.get("items"), dict) else {
            "type": "string"}
        for key in ("minItems", "maxItems"):
            _copy_int(node, out, key)
    elif kind == "object":
        props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
        if props:
            out["properties"] = {name: _clean(sub, defs, depth) for name, sub in props.items()}
            required = [r for r in node.get("required", []) if isinstance(r, str) and r in props]
            if required:
                out["required"] = list(dict.fromkeys(required))
        for key in ("minProperties", "maxProperties"):
            _copy_int(node, out, key)
    return {k: v for k, v in out.items() if k in _KEEP}


def _copy_int(src: dict[str, Any], dst: dict[str, Any], key: str) -> None:
    value = src.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        dst[key] = value


def _guess_type(node: dict[str, Any], enum: Any) -> str:
    if "properties" in node or "additionalProperties" in node or "propertyNames" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    if enum is not None:
        return "string"
    if any(k in node for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _merge_string_enums(branches: list[dict[str, Any]]) -> list[str] | None:
    """``anyOf`` whose branches are all string enums (Claude Code's TaskUpdate.status) → one enum."""
    if len(branches) < 2 or not all(b.get("type") == "string" and b.get("enum") for b in branches):
        return None
    values: list[str] = []
    for branch in branches:
        values.extend(v for v in branch["enum"] if v not in values)
    return values
