"""User routing rules (``[[router.rules]]``), evaluated in file order before the built-in routes.

Keys of one rule (every condition given must hold; at least one condition is required)::

    [[router.rules]]
    name = "refactors on gpt-4.1"        # optional, shown in the decision's reason
    target = "openrouter,openai/gpt-4.1"  # required
    model = "opus"                       # the requested model contains this (case-insensitive)
    system = "file search specialist"    # the system prompt text contains this (case-insensitive)
    tool = "web_search"                  # some tool's `type` starts with this, or its `name` equals it
    min_tokens = 30000                   # estimated input tokens >= this
    max_tokens = 120000                  # estimated input tokens <= this

Token conditions are checked last, so a rule whose text conditions fail costs no count.
A table is checked by :func:`rule_problems` and parsed once into a :class:`Rule` at load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RULE_TEXT_KEYS = ("model", "system", "tool")
RULE_TOKEN_KEYS = ("min_tokens", "max_tokens")
RULE_KEYS = frozenset({"name", "target", *RULE_TEXT_KEYS, *RULE_TOKEN_KEYS})


def rule_problems(rule: dict[str, Any]) -> list[str]:
    """Human messages for a malformed rule (the target itself is checked by config validation)."""
    problems = [f"{key}: unknown key (one of {', '.join(sorted(RULE_KEYS))})" for key in sorted(set(rule) - RULE_KEYS)]
    for key in ("name", *RULE_TEXT_KEYS):
        if key in rule and (not isinstance(rule[key], str) or not rule[key]):
            problems.append(f"{key}: expected a non-empty string")
    for key in RULE_TOKEN_KEYS:
        value = rule.get(key)
        if key in rule and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.append(f"{key}: expected a non-negative integer")
    if not any(key in rule for key in (*RULE_TEXT_KEYS, *RULE_TOKEN_KEYS)):
        problems.append("a rule needs at least one condition: " + ", ".join((*RULE_TEXT_KEYS, *RULE_TOKEN_KEYS)))
    return problems


@dataclass(frozen=True, slots=True)
class Rule:
    target: str  # "provider,model", checked against the providers at load
    name: str | None = None
    model: str | None = None
    system: str | None = None
    tool: str | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None

    @classmethod
    def from_table(cls, table: dict[str, Any], target: str) -> Rule:
        """A rule from a table :func:`rule_problems` found nothing wrong with."""
        return cls(target=target, **{key: table[key] for key in RULE_KEYS - {"target"} if key in table})

    def label(self, index: int) -> str:
        return f"rule {self.name!r}" if self.name else f"rule #{index + 1}"


def match_rule(
    rule: Rule,
    *,
    model: str,
    system_text: Callable[[], str],
    tools: list[Any],
    input_tokens_above: Callable[[int], bool],
) -> str | None:
    """A short description of why ``rule`` matches, or None.

    ``system_text`` is lazy (joined only when a rule asks); ``input_tokens_above(n)`` answers
    "estimated input > n" as cheaply as it can.
    """
    why: list[str] = []
    if rule.model is not None:
        if rule.model.lower() not in model.lower():
            return None
        why.append(f"model contains {rule.model!r}")
    if rule.system is not None:
        if rule.system.lower() not in system_text().lower():
            return None
        why.append(f"system prompt contains {rule.system!r}")
    if rule.tool is not None:
        want = rule.tool
        if not any(
            isinstance(t, dict) and (str(t.get("type") or "").startswith(want) or t.get("name") == want) for t in tools
        ):
            return None
        why.append(f"tool {want!r} present")
    if rule.min_tokens is not None:
        if not input_tokens_above(rule.min_tokens - 1):
            return None
        why.append(f"≥{rule.min_tokens:,} input tokens")
    if rule.max_tokens is not None:
        if input_tokens_above(rule.max_tokens):
            return None
        why.append(f"≤{rule.max_tokens:,} input tokens")
    return ", ".join(why)
