"""The Gemini schema sanitizer: a table of JSON Schema idioms, and every real Claude Code tool schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.providers.gemini.schema import clean_parameters, clean_schema

FIXTURES = Path(__file__).parents[1] / "fixtures" / "claude-code"

# What Gemini's Schema message accepts (generativelanguage v1beta), checked independently of the code.
ALLOWED = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
           "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
           "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def assert_gemini_schema(node: Any, path: str = "$") -> None:
    """Raise with the path of the first node Gemini would reject."""
    assert isinstance(node, dict), path
    unknown = set(node) - ALLOWED
    assert not unknown, f"{path}: unknown keys {unknown}"
    if "anyOf" in node:
        assert isinstance(node["anyOf"], list) and node["anyOf"], path
        for i, branch in enumerate(node["anyOf"]):
            assert_gemini_schema(branch, f"{path}.anyOf[{i}]")
    else:
        assert node.get("type") in TYPES, f"{path}: type {node.get('type')!r}"
    kind = node.get("type")
    if "enum" in node:
        assert kind == "string", f"{path}: enum on {kind}"
        assert node["enum"] and all(isinstance(v, str) for v in node["enum"]), path
    if "format" in node:
        if kind == "string":
            assert node["format"] in ("enum", "date-time"), f"{path}: format {node['format']}"
        if node["format"] == "enum":
            assert node.get("enum"), path
    if "properties" in node or "required" in node:
        assert kind == "object", f"{path}: properties on {kind}"
    if "items" in node:
        assert kind == "array", f"{path}: items on {kind}"
    if kind == "array":
        assert_gemini_schema(node["items"], f"{path}.items")
    for name, sub in (node.get("properties") or {}).items():
        assert_gemini_schema(sub, f"{path}.{name}")
    for name in node.get("required", []):
        assert name in node.get("properties", {}), f"{path}: required {name!r} is not a property"


def fixture_tools() -> list[tuple[str, dict[str, Any]]]:
    seen: dict[str, dict[str, Any]] = {}
    for file in sorted(FIXTURES.glob("*.json")):
        for tool in json.loads(file.read_text())["body"].get("tools", []):
            if "input_schema" in tool:
                seen.setdefault(f"{file.stem}:{tool['name']}", tool["input_schema"])
    return sorted(seen.items())


TOOLS = fixture_tools()


def test_fixtures_hold_the_real_tool_set() -> None:
    names = {key.split(":")[1] for key, _ in TOOLS}
    assert {"Bash", "Edit", "Read", "TaskUpdate", "TaskCreate", "WebFetch", "AskUserQuestion"} <= names
    assert len(TOOLS) > 100


@pytest.mark.parametrize(("name", "schema"), TOOLS, ids=[name for name, _ in TOOLS])
def test_every_claude_code_tool_schema_is_valid_for_gemini(name: str, schema: dict[str, Any]) -> None:
    cleaned = clean_parameters(schema)
    if not schema.get("properties"):
        assert cleaned is None  # no-arg tools send no parameters (empty OBJECT is rejected)
        return
    assert_gemini_schema(cleaned)
    # Nothing the model needs is lost: every property survives, and so does every required name.
    assert set(cleaned["properties"]) == set(schema["properties"])
    assert set(cleaned.get("required", [])) == set(schema.get("required", []))
    assert not all_keys(cleaned) & {"$schema", "additionalProperties", "propertyNames", "exclusiveMinimum", "const"}


def all_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = set(node)
        for key, value in node.items():
            found |= all_keys(value) if key != "properties" else set().union(*map(all_keys, value.values()))
        return found
    if isinstance(node, list):
        return set().union(*map(all_keys, node)) if node else set()
    return set()


def s(**kw: Any) -> dict[str, Any]:
    return kw


CASES = [
    ("drops $schema and additionalProperties",
     s(**{"$schema": "x", "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}),
     {"type": "object", "properties": {"a": {"type": "string"}}}),
    ("const becomes a one-value enum",
     s(type="string", const="deleted"), {"type": "string", "enum": ["deleted"]}),
    ("integer enum is stringified",
     s(type="integer", enum=[1, 2, 3]), {"type": "string", "enum": ["1", "2", "3"]}),
    ("type list with null becomes nullable",
     s(type=["string", "null"], description="d"), {"type": "string", "description": "d", "nullable": True}),
    ("type list of two becomes anyOf",
     s(type=["string", "number"]), {"anyOf": [{"type": "string"}, {"type": "number"}]}),
    ("anyOf null branch becomes nullable",
     s(anyOf=[{"type": "integer"}, {"type": "null"}]), {"type": "integer", "nullable": True}),
    ("anyOf of string enums is merged (TaskUpdate.status)",
     s(anyOf=[{"type": "string", "enum": ["a", "b"]}, {"type": "string", "const": "c"}]),
     {"type": "string", "enum": ["a", "b", "c"]}),
    ("exclusiveMinimum, multipleOf dropped; minimum kept",
     s(type="integer", exclusiveMinimum=0, multipleOf=2, minimum=1), {"type": "integer", "minimum": 1}),
    ("unsupported string format dropped", s(type="string", format="uri"), {"type": "string"}),
    ("date-time format kept", s(type="string", format="date-time"), {"type": "string", "format": "date-time"}),
    ("format enum without enum dropped", s(type="string", format="enum"), {"type": "string"}),
    ("free-form object keeps its type only",
     s(type="object", propertyNames={"type": "string"}, additionalProperties={"type": "string"}),
     {"type": "object"}),
    ("untyped node with properties is typed object",
     s(properties={"x": {}}), {"type": "object", "properties": {"x": {"type": "string"}}}),
    ("required names only existing properties",
     s(type="object", properties={"a": {"type": "string"}}, required=["a", "ghost", "a"]),
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
    ("items only on arrays; properties only on objects",
     s(type="string", items={"type": "string"}, properties={"a": {}}, required=["a"]), {"type": "string"}),
    ("array without items gets string items",
     s(type="array"), {"type": "array", "items": {"type": "string"}}),
    ("$ref inlined from $defs",
     s(type="object", properties={"p": {"$ref": "#/$defs/P"}}, **{"$defs": {"P": {"type": "string", "enum": ["x"]}}}),
     {"type": "object", "properties": {"p": {"type": "string", "enum": ["x"]}}}),
    ("recursive $ref is cut, not looped",
     s(**{"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"}),
     None),
    ("if/then/else, not, examples, default, pattern dropped",
     s(type="string", examples=["a"], default="a", pattern="^a", **{"if": {}, "then": {}, "else": {}, "not": {}}),
     {"type": "string"}),
    ("allOf merged", s(allOf=[{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                              {"properties": {"b": {"type": "integer"}}}]),
     {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}),
    ("nested arrays of objects cleaned recursively",
     s(type="array", items={"type": "object", "additionalProperties": False,
                            "properties": {"q": {"type": "string", "maxLength": 10, "minLength": 1}}}),
     {"type": "array", "items": {"type": "object", "properties": {"q": {"type": "string", "minLength": 1,
                                                                           "maxLength": 10}}}}),
    ("enum with null becomes nullable", s(enum=["a", None]), {"type": "string", "enum": ["a"], "nullable": True}),
    ("nullable object keeps properties", s(type=["object", "null"], properties={"a": {"type": "boolean"}}),
     {"type": "object", "nullable": True, "properties": {"a": {"type": "boolean"}}}),
]


@pytest.mark.parametrize(("label", "schema", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sanitizer_table(label: str, schema: dict[str, Any], expected: dict[str, Any] | None) -> None:
    cleaned = clean_schema(schema)
    assert_gemini_schema(cleaned)
    if expected is not None:
        assert cleaned == expected


def test_recursive_ref_terminates_with_a_valid_schema() -> None:
    schema = {"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"}
    cleaned = clean_schema(schema)
    depth, node = 0, cleaned
    while "properties" in node:
        node, depth = node["properties"]["next"], depth + 1
    assert 1 <= depth <= 6


def test_no_arg_tool_has_no_parameters() -> None:
    assert clean_parameters({"type": "object", "properties": {}}) is None
    assert clean_parameters({"type": "object", "additionalProperties": False}) is None
    assert clean_parameters(None) is None
