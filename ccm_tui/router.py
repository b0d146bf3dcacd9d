"""The router: one request (body, headers, config) → :class:`~ccm_tui.flow.Decision`. Pure, no I/O.

Priority, highest first (``route`` names in brackets):

1. the session pin ``config.pinned`` (set by the proxy's session, never written) [pinned];
2. a request ``model`` that is itself ``provider,model`` with a known provider [override]
   (Claude Code's ``/model openrouter,gpt-4o``), or its ``/model`` picker alias
   ``claude-ccm/provider,model`` (:mod:`ccm_tui.model_ids`; the route stands when it picks that model anyway);
3. user ``[[router.rules]]`` in file order [rule] (keys: :mod:`ccm_tui.router_rules`);
4. built-ins, facts from real Claude Code 2.1 traffic:
   web_search (a tool whose ``type`` starts ``web_search``; a client tool *named* WebSearch is not),
   image (the latest user turn holds an image block, also inside ``tool_result`` content),
   subagent (``cc_is_subagent=true`` in the first system block, the ``x-claude-code-agent-id``
   header, or a claude-code-router ``<CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL>``
   tag, whose target wins), think (``thinking.type == "enabled"``; adaptive thinking only when
   ``router.think_min_effort`` is set and ``output_config.effort``, default "high", reaches it on
   the scale low < medium < high < xhigh < max),
   background (a haiku model outside a subagent, or a utility request: no tools, thinking off or
   absent, a non-empty system prompt shorter than :data:`BACKGROUND_SYSTEM_MAX_CHARS`),
   long_context (estimated input tokens above ``router.long_context_threshold``), default.

A route without a target uses ``default``; with no default either (the embedded no-config mode)
the request goes to the first provider listing the requested model, else the first provider.

Window-aware long context: when the estimated input plus the output the request will ask for
(``max_tokens`` clamped to the model's cap) exceeds the chosen model's context window, the request
escalates to long_context; if that target cannot hold it either, :class:`InvalidRequest` names the
sizes in the wording Claude Code parses ("prompt is too long: N tokens > M maximum", or "input
length and `max_tokens` exceed context limit: N + O > M", after which it retries with less output).
Pinned and override requests and the embedded passthrough are never escalated.

Tokens are counted only when a size bound cannot settle the question: the body's JSON size
(image payloads excluded) gives ``bytes / 16 <= tokens <= bytes / 2`` plus per-image and framing
allowances, which decides most requests without a count.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .config import EFFORTS, Config, parse_target, route_key
from .errors import InvalidRequest
from .flow import Decision
from .limits import limits_for, output_reserve
from .model_ids import unalias
from .router_rules import match_rule

Counter = Callable[..., int]

#: A no-tools, no-thinking request whose system text (billing line excluded) is shorter is a
#: utility job (session title, summary). Claude Code's title prompt is ~1.3k characters.
BACKGROUND_SYSTEM_MAX_CHARS = 4000
#: Size bounds for skipping a count (JSON bytes per token). Real Claude Code bodies measure ~3.8;
#: dense digits/base64 text ~1.6, whitespace-heavy text more than 10.
MIN_BYTES_PER_TOKEN = 2.0
MAX_BYTES_PER_TOKEN = 16.0
IMAGE_TOKENS_MAX = 1600  # ccm_tui.tokens counts at most this per image
FRAMING_TOKENS = 400  # tools preamble and the like, on top of the JSON bytes
ONE_M_CONTEXT = 1_000_000

_CCR_TAG = re.compile(r"<CCR-SUBAGENT-MODEL>(.*?)</CCR-SUBAGENT-MODEL>", re.S)


# -- request facts ---------------------------------------------------------------------------
def _system_texts(body: Mapping[str, Any]) -> list[str]:
    system = body.get("system")
    if isinstance(system, str):
        return [system]
    if isinstance(system, list):
        return [b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return []


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == name), None)
    return value


def _latest_user_image(messages: Any) -> str | None:
    """Where the latest user turn carries an image: "" (top level), "tool result", or None."""
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if not isinstance(content, list):
                return None
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "image":
                    return ""
                nested = block.get("content")
                if block.get("type") == "tool_result" and isinstance(nested, list):
                    if any(isinstance(b, dict) and b.get("type") == "image" for b in nested):
                        return "tool result"
            return None
    return None


def _media(messages: Any) -> tuple[int, int, bool]:
    """(images, base64 payload bytes of images and documents, any base64 document) in all messages."""
    images = payload = 0
    document = False
    stack = [m.get("content") for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    while stack:
        content = stack.pop()
        if not isinstance(content, list):
            continue
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind in ("image", "document"):
                source = block.get("source")
                data = source.get("data") if isinstance(source, dict) else None
                if isinstance(data, str) and source.get("type") == "base64":
                    payload += len(data)
                    document = document or kind == "document"
                images += kind == "image"
            elif kind == "tool_result":
                stack.append(block.get("content"))
    return images, payload, document


class _Size:
    """Input-token questions answered by size bounds first, by one count only when needed."""

    def __init__(self, body: dict[str, Any], count: Counter | None, model: str, body_bytes: int | None) -> None:
        self.body, self.model, self.body_bytes = body, model, body_bytes
        self._count = count
        self._bounds: tuple[int, int | None] | None = None
        self.exact: int | None = None

    def bounds(self) -> tuple[int, int | None]:
        if self._bounds is None:
            messages = self.body.get("messages")
            images, payload, document = _media(messages)
            size = self.body_bytes if self.body_bytes is not None else len(json.dumps(self.body, default=str))
            n_bytes = max(0, size - payload)
            lower = int(n_bytes / MAX_BYTES_PER_TOKEN)
            n_messages = len(messages) if isinstance(messages, list) else 0
            upper = math.ceil(n_bytes / MIN_BYTES_PER_TOKEN) + images * IMAGE_TOKENS_MAX + FRAMING_TOKENS
            upper += 4 * n_messages
            self._bounds = (lower, None if document else upper)  # PDF pages: no bound without decoding
        return self._bounds

    def count(self) -> int:
        if self.exact is None:
            count = self._count
            if count is None:
                from .tokens import count_request_tokens as count
            self.exact = int(count(self.body, model=self.model))
        return self.exact

    def above(self, n: int) -> bool:
        """Estimated input tokens > n."""
        if self.exact is None:
            lower, upper = self.bounds()
            if lower > n:
                return True
            if upper is not None and upper <= n:
                return False
        return self.count() > n

    def describe(self) -> str:
        return f"≈{self.exact:,}" if self.exact is not None else f"over {self.bounds()[0]:,}"


# -- public API ------------------------------------------------------------------------------
def strip_subagent_tag(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Remove ``<CCR-SUBAGENT-MODEL>…</CCR-SUBAGENT-MODEL>`` from the system text.

    Returns a new body (the input is not mutated; untouched parts are shared) and the first tag's
    content. Blocks left empty are dropped: Anthropic rejects empty text blocks.
    """
    system = body.get("system")
    found: list[str] = []

    def cut(text: str) -> str:
        found.extend(m.strip() for m in _CCR_TAG.findall(text))
        return _CCR_TAG.sub("", text)

    if isinstance(system, str) and _CCR_TAG.search(system):
        new_system = cut(system).strip()
        out = dict(body)
        if new_system:
            out["system"] = new_system
        else:
            out.pop("system")
        return out, found[0]
    if isinstance(system, list) and any(
        isinstance(b, dict) and isinstance(b.get("text"), str) and _CCR_TAG.search(b["text"]) for b in system
    ):
        blocks = []
        for block in system:
            if isinstance(block, dict) and isinstance(block.get("text"), str) and _CCR_TAG.search(block["text"]):
                text = cut(block["text"])
                if not text.strip():
                    continue
                block = {**block, "text": text.strip("\n")}
            blocks.append(block)
        return {**body, "system": blocks}, found[0]
    return body, None


def decide(
    body: dict[str, Any],
    headers: Mapping[str, str],
    config: Config,
    *,
    count_tokens: Counter | None = None,
    body_bytes: int | None = None,
) -> Decision:
    """Pick route, provider and model for one Messages request (see the module docstring).

    ``body_bytes``, the size of the raw request, spares re-serialising the body to bound its tokens.
    """
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    size = _Size(body, count_tokens, model, body_bytes)
    notes: list[str] = []

    if config.pinned:
        target = _known_target(config, config.pinned)
        if target:
            return _decision("pinned", target, f"session pinned to {config.pinned}", size)
        notes.append(f"pin {config.pinned!r} names an unknown provider")
    named = unalias(model) or model
    if "," in named:
        target = _known_target(config, named)
        if target:
            if named != model:  # a picker alias: the route stands when it leads to that model anyway
                route, reason, routed = _classify(body, headers, config, model, size, [])
                if (routed or _route_target(config, route, model)[0]) == target:
                    return _decision(route, target, reason, size)
            return _decision("override", target, f"request model names {target[0]},{target[1]} directly", size)
        notes.append(f"model {model!r} names an unknown provider")

    route, reason, target = _classify(body, headers, config, model, size, notes)
    if target is None:
        target, fallback_note = _route_target(config, route, model)
        if fallback_note:
            notes.append(fallback_note)
    if config.router.routes and not config.embedded_default:
        route, reason, target = _fit_window(body, headers, config, route, reason, target, size)
    if notes:
        reason = f"{reason} ({'; '.join(notes)})"
    return _decision(route, target, reason, size)


# -- steps -----------------------------------------------------------------------------------
def _decision(route: str, target: tuple[str, str], reason: str, size: _Size) -> Decision:
    return Decision(route=route, provider=target[0], model=target[1], reason=reason, estimated_tokens=size.exact)


def _known_target(config: Config, value: str) -> tuple[str, str] | None:
    try:
        provider, model = parse_target(value)
    except ValueError:
        return None
    return (provider, model) if provider in config.providers else None


def _route_target(config: Config, route: str, model: str) -> tuple[tuple[str, str], str | None]:
    """The configured target of a route, else default, else the embedded passthrough choice."""
    value = config.router.target(route)
    if value:
        target = _known_target(config, value)
        if target:
            key = route_key(route)
            note = None if route == "default" or config.router.routes.get(key) else f"no {key} route: default"
            return target, note
    for provider in config.providers.values():
        if model in provider.models:
            return (provider.name, model), None
    first = next(iter(config.providers), "")
    return (first, model), None


def _classify(
    body: dict[str, Any], headers: Mapping[str, str], config: Config, model: str, size: _Size, notes: list[str]
) -> tuple[str, str, tuple[str, str] | None]:
    """(route, reason, explicit target or None) by rules and built-ins."""
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    texts = _system_texts(body)

    for index, rule in enumerate(config.router.rules):
        why = match_rule(
            rule, model=model, system_text=lambda: "\n".join(texts), tools=tools, input_tokens_above=size.above
        )
        if why is not None:
            target = _known_target(config, rule.target)
            if target:
                return "rule", f"{rule.label(index)} matched: {why}", target

    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and kind.startswith("web_search"):
            return "websearch", f"server tool {kind} present", None

    where = _latest_user_image(body.get("messages"))
    if where is not None:
        return "image", "latest user turn has an image" + (f" in a {where}" if where else ""), None

    tag = next((m.group(1).strip() for t in texts if (m := _CCR_TAG.search(t))), None)
    if tag is not None:
        target = _known_target(config, tag)
        if target:
            return "subagent", f"CCR-SUBAGENT-MODEL tag selects {target[0]},{target[1]}", target
        notes.append(f"CCR-SUBAGENT-MODEL tag {tag!r} names an unknown provider")
        return "subagent", "subagent (CCR-SUBAGENT-MODEL tag)", None
    if texts and "cc_is_subagent=true" in texts[0]:
        return "subagent", "subagent request (cc_is_subagent in the billing header)", None
    agent = _header(headers, "x-claude-code-agent-id")
    if agent:
        return "subagent", f"subagent request (agent id {agent})", None

    thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        budget_text = f" (budget {budget:,} tokens)" if isinstance(budget, int) else ""
        return "think", f"extended thinking enabled{budget_text}", None
    minimum = config.router.think_min_effort
    if thinking.get("type") == "adaptive" and minimum in EFFORTS:
        output_config = body.get("output_config") if isinstance(body.get("output_config"), dict) else {}
        effort = output_config.get("effort", "high")
        if effort in EFFORTS and EFFORTS.index(effort) >= EFFORTS.index(minimum):
            return "think", f"adaptive thinking at effort {effort} (think_min_effort {minimum})", None

    if "haiku" in model.lower():
        return "background", f"haiku model {model} outside a subagent", None
    prompt = [t for t in texts if not t.startswith("x-anthropic-billing-header:")]
    prompt_chars = sum(len(t) for t in prompt)
    if not tools and thinking.get("type", "disabled") == "disabled" and 0 < prompt_chars < BACKGROUND_SYSTEM_MAX_CHARS:
        return "background", "utility request: no tools, no thinking, short system prompt", None

    threshold = config.router.long_context_threshold
    if size.above(threshold):
        return "long_context", f"{size.describe()} input tokens, above the {threshold:,} threshold", None
    return "default", "main conversation request", None


def _window(
    body: dict[str, Any], headers: Mapping[str, str], config: Config, target: tuple[str, str]
) -> tuple[int | None, int]:
    """(context window or None, output tokens the request will ask for) of a target."""
    limits = limits_for(config, *target)
    window = limits.context_window
    provider = config.providers.get(target[0])
    beta = _header(headers, "anthropic-beta") or ""
    if provider is not None and provider.type == "anthropic" and "context-1m" in beta and target[1].startswith("claude"):
        window = max(window or 0, ONE_M_CONTEXT)  # the 1M-context beta the client asked for
    return window, output_reserve(body, limits)


def _fit_window(
    body: dict[str, Any],
    headers: Mapping[str, str],
    config: Config,
    route: str,
    reason: str,
    target: tuple[str, str],
    size: _Size,
) -> tuple[str, str, tuple[str, str]]:
    window, reserve = _window(body, headers, config, target)
    if window is None or not size.above(window - reserve):
        return route, reason, target
    long_target, _ = _route_target(config, "long_context", body.get("model") or "")
    if long_target == target:
        _too_long(size, window, reserve, target)
    long_window, long_reserve = _window(body, headers, config, long_target)
    if long_window is not None and size.above(long_window - long_reserve):
        _too_long(size, long_window, long_reserve, long_target)
    reason = (f"≈{size.count():,} input + {reserve:,} output tokens exceed the {window:,}-token window of "
              f"{target[0]},{target[1]} ({route} route)")
    return "long_context", reason, long_target


def _too_long(size: _Size, window: int, reserve: int, target: tuple[str, str]) -> None:
    tokens = size.count()
    name = f"{target[0]},{target[1]}"
    if tokens > window:
        raise InvalidRequest(f"prompt is too long: {tokens} tokens > {window} maximum for {name}")
    raise InvalidRequest(
        f"input length and `max_tokens` exceed context limit: {tokens} + {reserve} > {window}, "
        f"decrease input length or `max_tokens` and try again ({name})"
    )
