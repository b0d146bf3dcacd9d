"""What ``[providers.NAME.options]`` each provider type understands, checked when the config loads.

A wrong option used to surface at request time (a Gemini ``max_thinking_budget = "lots"`` was a 500
while ``config check`` passed) or silently (``effort_levels = "high"`` became ``('h','i','g','h')``).
OpenAI-compatible options are the fields of its :class:`~ccm_tui.providers.openai.presets.Preset`
(checked by their declared type, with the closed sets and patterns below); Gemini's are listed here;
anthropic and litellm take none.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], str | None]  # the problem with a value, or None


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {value!r}"


def one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"one of {', '.join(map(repr, allowed))}, got {value!r}"
    return check


def optional(check: Check) -> Check:
    """``false`` or ``""`` also means "none" (TOML has no null)."""
    return lambda value: None if value is False or value == "" else check(value)


def pattern(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected a regular expression string, got {value!r}"
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def text_list(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return None
    return f"expected a list of strings such as [\"low\", \"high\"], got {value!r}"


def text_table(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return None
    return f"expected a table of name = \"value\", got {value!r}"


def whole(low: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return f"expected an integer of at least {low}, got {value!r}"
        return None
    return check


def table_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return None if ok else f"expected a list of tables, got {value!r}"


#: Checks beyond a Preset field's declared type (closed sets, patterns).
_OPENAI_SPECIAL: dict[str, Check] = {
    "echo_reasoning": optional(one_of("reasoning_content", "reasoning")),
    "effort_style": optional(one_of("reasoning_effort", "openrouter")),
    "reasoning_models": optional(pattern),
    "search_models": optional(pattern),
    "cache_control_models": optional(pattern),
    "mid_system": one_of("system", "merge"),
    "web_search": one_of("plugin", "options", "none"),
    "api": one_of("chat", "responses"),
    "extra_headers": text_table,
}
_BY_TYPE: dict[str, Check] = {"bool": boolean, "str": text, "str | None": optional(text),
                              "tuple[str, ...]": text_list}

GEMINI_OPTIONS: dict[str, Check] = {
    "thinking": boolean,
    "max_thinking_budget": whole(1),
    "schema_mode": one_of("json_schema", "openapi"),
    "safety_settings": table_list,
}


def openai_options() -> dict[str, Check]:
    from .providers.openai.presets import Preset

    checks = {}
    for f in dataclasses.fields(Preset):
        if f.name != "name":
            checks[f.name] = _OPENAI_SPECIAL.get(f.name) or _BY_TYPE.get(str(f.type), lambda value: None)
    return checks


def option_checks(provider_type: str) -> dict[str, Check]:
    if provider_type == "openai":
        return openai_options()
    if provider_type == "gemini":
        return GEMINI_OPTIONS
    return {}


def option_problems(provider_type: str, options: dict[str, Any]) -> list[tuple[str, str]]:
    """(option, problem) for each option the type does not know or whose value is wrong."""
    checks = option_checks(provider_type)
    problems = []
    for name, value in options.items():
        check = checks.get(name)
        if check is None:
            known = ", ".join(sorted(checks)) or "none"
            problems.append((name, f"unknown option for type = \"{provider_type}\" (known: {known})"))
        elif (problem := check(value)) is not None:
            problems.append((name, problem))
    return problems
