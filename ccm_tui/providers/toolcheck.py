"""Tool calls checked against the request's tools before Claude Code sees them.

Open models emit calls that do not match the tool's ``input_schema`` (wrong types, missing
required keys, unknown tool names); Claude Code answers with the error and the same model often
loops on it. Each call is validated with ``jsonschema`` (imported on first use; one compiled
validator per distinct schema, cached). What is unambiguous is repaired first: a top-level value
the schema wants as integer/number/boolean/array/object that arrived as a string holding exactly
that (``"5"``, ``"true"``, ``"[1]"``). A call still invalid is a problem: the provider raises
:class:`InvalidToolCall` while nothing has reached the client and a retry is still allowed (the
attempt loop then tries the route's fallback target, or the same one, once), else it is passed on
with a note. Counts go to ``flow.tool_calls`` per ``provider,model`` (the Providers pane's rate).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from ..errors import UpstreamUnavailable
from ..flow import Flow

_INT = re.compile(r"-?\d+")
MAX_ERRORS_SHOWN = 3


class InvalidToolCall(UpstreamUnavailable):
    """The model called a tool with input its schema rejects (or a tool that does not exist)."""


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    """The compiled validator of one schema (by its canonical JSON); None when it is unusable."""
    import jsonschema  # lazy: start-up and RSS pay only when a tool call is checked

    schema = json.loads(schema_json)
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        return cls(schema)
    except Exception:  # a schema jsonschema cannot use is not the model's fault: skip the check
        return None


def schema_errors(schema: Mapping[str, Any], value: Any) -> list[str]:
    """jsonschema's messages for ``value`` against ``schema`` (empty: valid or unusable schema)."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def _coerced(value: Any, schema: Any) -> Any:
    """A string holding exactly what ``schema`` asks for, as that type; else ``value`` unchanged."""
    if not isinstance(value, str) or not isinstance(schema, dict):
        return value
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    if "string" in kinds:
        return value
    text = value.strip()
    for kind in kinds:
        if kind == "integer" and _INT.fullmatch(text):
            return int(text)
        if kind == "number":
            try:
                number = float(text)
            except ValueError:
                continue
            return int(number) if _INT.fullmatch(text) else number
        if kind == "boolean" and text in ("true", "false"):
            return text == "true"
        if kind in ("array", "object") and text[:1] in "[{":
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, list if kind == "array" else dict):
                return parsed
    return value


def repair(schema: Mapping[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    return {key: _coerced(item, properties.get(key)) for key, item in value.items()}


class ToolCheck:
    """The tools of one request, and what the answer's calls did with them."""

    def __init__(
        self, tools: Any, *, retry_allowed: bool, counts: list[int] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.schemas: dict[str, dict[str, Any] | None] = {}
        for tool in tools if isinstance(tools, list) else []:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                schema = tool.get("input_schema")
                self.schemas[tool["name"]] = schema if isinstance(schema, dict) else None
        #: False once anything reached the client (the stream driver clears it) or on the retry.
        self.retry_allowed = retry_allowed
        self.counts = counts if counts is not None else [0, 0]  # [checked, invalid]
        self.note = note or (lambda _text: None)

    @property
    def active(self) -> bool:
        """Some declared tool has a schema to check calls against."""
        return any(schema is not None for schema in self.schemas.values())

    @classmethod
    def for_flow(cls, flow: Flow, body: Mapping[str, Any], provider: str, model: str) -> ToolCheck:
        counts = flow.tool_calls.setdefault(f"{provider},{model}", [0, 0])
        return cls(body.get("tools"), retry_allowed=not flow.tool_call_retried, counts=counts, note=flow.note)

    def check(self, name: str, value: dict[str, Any], *, repairable: bool = True) -> dict[str, Any]:
        """The input to send (repaired where that is unambiguous and ``repairable``: not yet sent).
        An invalid call raises :class:`InvalidToolCall` while a retry is allowed, else it is
        passed on with a note."""
        if not self.schemas:
            return value  # nothing declared to check against
        self.counts[0] += 1
        if name not in self.schemas:
            problem = f"{name}: no such tool in the request"
        else:
            schema = self.schemas[name]
            if schema is None or not (errors := schema_errors(schema, value)):
                return value
            fixed = repair(schema, value) if repairable else value
            if fixed != value and not schema_errors(schema, fixed):
                self.note(f"repaired tool input of {name} to match its schema")
                return fixed
            problem = f"{name}: " + "; ".join(errors[:MAX_ERRORS_SHOWN])
        self.counts[1] += 1
        if self.retry_allowed:
            raise InvalidToolCall(f"invalid tool call: {problem}")
        self.note(f"invalid tool call passed on: {problem}")
        return value

    def check_message(self, message: dict[str, Any]) -> None:
        """Every tool_use of a whole message, repaired in place."""
        for block in message.get("content") or []:
            if block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
                block["input"] = self.check(str(block.get("name")), block["input"])
