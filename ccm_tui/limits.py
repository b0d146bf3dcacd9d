"""Per-model limits: context window, output cap, vision, and the ``max_tokens`` clamp.

``[providers.NAME.limits]`` entries win; fields an entry leaves out come from the built-in table
below, then from the provider's ``max_tokens_cap``. Unknown models get ``ModelLimits()`` (no window,
no cap): nothing is clamped or escalated on a guess.

Built-in numbers are from vendor docs (Anthropic models overview, OpenAI model pages, DeepSeek API
pricing/models page, Google Gemini models page, Meta/Qwen model cards). Names are matched on the
last path segment, lower-cased (``openai/gpt-4o``, ``models/gemini-2.5-pro`` and dated snapshots
such as ``gpt-4o-2024-08-06`` all match), by prefix, most specific entry first.
"""

from __future__ import annotations

import copy
from typing import Any

from .config import Config, ModelLimits, ProviderConfig

_K = 1024

# (name prefix, context window, max output tokens, vision); first match wins, so specific first.
_BUILTIN: tuple[tuple[str, int, int | None, bool], ...] = (
    # Anthropic: Opus 4 / 4.1 cap output at 32k, the rest of the 4.x family at 64k.
    ("claude-opus-4-1", 200_000, 32_000, True),
    ("claude-opus-4-0", 200_000, 32_000, True),
    ("claude-opus-4-2025", 200_000, 32_000, True),
    ("claude-opus-4", 200_000, 64_000, True),
    ("claude-sonnet-4", 200_000, 64_000, True),
    ("claude-haiku-4", 200_000, 64_000, True),
    ("claude-3-7-sonnet", 200_000, 64_000, True),
    ("claude-3-5-haiku", 200_000, 8_192, True),
    ("claude-3-5-sonnet", 200_000, 8_192, True),
    # OpenAI
    ("gpt-4o", 128_000, 16_384, True),
    ("chatgpt-4o", 128_000, 16_384, True),
    ("gpt-4.1", 1_047_576, 32_768, True),
    ("gpt-4-turbo", 128_000, 4_096, True),
    ("gpt-5", 400_000, 128_000, True),
    ("o1-mini", 128_000, 65_536, False),
    ("o1", 200_000, 100_000, True),
    ("o3", 200_000, 100_000, True),
    ("o4-mini", 200_000, 100_000, True),
    ("gpt-oss", 131_072, 131_072, False),
    # DeepSeek (API: 128k context; chat output up to 8k, reasoner up to 64k)
    ("deepseek-chat", 128_000, 8 * _K, False),
    ("deepseek-v3", 128_000, 8 * _K, False),
    ("deepseek-reasoner", 128_000, 64 * _K, False),
    ("deepseek-r1", 128_000, 64 * _K, False),
    # Google
    ("gemini-2.5", 1_048_576, 65_536, True),
    ("gemini-2.0-flash", 1_048_576, 8_192, True),
    ("gemini-1.5-pro", 2_097_152, 8_192, True),
    ("gemini-1.5-flash", 1_048_576, 8_192, True),
    # Open-weight models: the model's own window; the output cap depends on the host, so none here.
    ("llama-3.2-11b-vision", 131_072, None, True),
    ("llama-3.2-90b-vision", 131_072, None, True),
    ("llama-3.1", 131_072, None, False),
    ("llama-3.2", 131_072, None, False),
    ("llama-3.3", 131_072, None, False),
    ("meta-llama-3.1", 131_072, None, False),
    ("qwen3-coder", 262_144, 65_536, False),
    ("qwen-2.5-coder", 32_768, None, False),
    ("qwen2.5-coder", 32_768, None, False),
    ("qwen2.5-vl", 32_768, None, True),
    ("qwen3", 131_072, None, False),
)


def builtin_limits(model: str) -> ModelLimits | None:
    """The built-in entry for ``model`` (any vendor prefix or date suffix), or None."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    for prefix, window, output, vision in _BUILTIN:
        if name.startswith(prefix):
            return ModelLimits(context_window=window, max_output_tokens=output, vision=vision)
    return None


def limits_for(config: Config, provider: str, model: str) -> ModelLimits:
    """Limits of ``provider,model``: config entry, then built-in defaults, then the provider's cap."""
    return provider_limits(config.providers.get(provider), model)


#: Claude Code asks for Anthropic's 1M-token window (models named ``…[1m]``) with this beta.
CONTEXT_1M_BETA = "context-1m"
CONTEXT_1M = 1_000_000


def request_window(config: Config, provider: str, model: str, headers: dict[str, str],
                   requested: str | None) -> int | None:
    """The context window a request really has: the model's, or 1M where claude asked an Anthropic
    provider for the 1M beta for this very model (``requested``: claude asks it only of models that
    have it; routed to another model, that model's window holds) and no ``limits`` entry of the
    user's says otherwise."""
    window = limits_for(config, provider, model).context_window
    prov = config.providers.get(provider)
    beta = next((v for k, v in headers.items() if k.lower() == "anthropic-beta"), "")
    explicit = prov is not None and any(k.lower() == model.lower() and v.context_window
                                        for k, v in prov.limits.items())
    if (CONTEXT_1M_BETA in beta and requested == model and prov is not None and prov.type == "anthropic"
            and not explicit):
        return max(window or 0, CONTEXT_1M)
    return window


def provider_limits(prov: ProviderConfig | None, model: str) -> ModelLimits:
    """:func:`limits_for` when the provider's config is at hand (providers themselves)."""
    entry = None
    if prov is not None:
        entry = prov.limits.get(model)
        if entry is None:
            lowered = model.lower()
            entry = next((v for k, v in prov.limits.items() if k.lower() == lowered), None)
    builtin = builtin_limits(model)
    if entry is None and builtin is None:
        result = ModelLimits()
    elif entry is None:
        result = builtin
    else:
        fallback = builtin or ModelLimits()
        result = ModelLimits(
            context_window=entry.context_window or fallback.context_window,
            max_output_tokens=entry.max_output_tokens or fallback.max_output_tokens,
            vision=entry.vision,  # an entry states vision explicitly (default true)
        )
    cap = prov.max_tokens_cap if prov is not None else None
    if cap is not None and (result.max_output_tokens is None or cap < result.max_output_tokens):
        result = ModelLimits(result.context_window, cap, result.vision)
    return result


def output_reserve(body: dict[str, Any], limits: ModelLimits) -> int:
    """The output tokens a request will actually ask for once clamped (0 if it names none)."""
    requested = body.get("max_tokens")
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        requested = 0
    if limits.max_output_tokens is not None:
        return min(requested, limits.max_output_tokens)
    return requested


def clamp_max_tokens(body: dict[str, Any], limits: ModelLimits) -> tuple[dict[str, Any], str | None]:
    """Lower ``max_tokens`` to the model's output cap; returns a new body and a note when changed.

    An enabled thinking budget must stay below ``max_tokens`` (Anthropic rejects it otherwise), so
    it is lowered with it. The input body is never mutated.
    """
    cap = limits.max_output_tokens
    requested = body.get("max_tokens")
    if cap is None or isinstance(requested, bool) or not isinstance(requested, int) or requested <= cap:
        return body, None
    out = dict(body)
    out["max_tokens"] = cap
    note = f"max_tokens {requested} clamped to {cap} (model output limit)"
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool) and budget >= cap:
            new_thinking = copy.copy(thinking)
            new_thinking["budget_tokens"] = max(cap - 1, 1)
            out["thinking"] = new_thinking
            note += f"; thinking budget {budget} lowered to {new_thinking['budget_tokens']}"
    return out, note


IMAGE_PLACEHOLDER = "[image omitted: the routed model does not accept images]"


def _without_images(content: Any) -> tuple[Any, int]:
    if not isinstance(content, list):
        return content, 0
    out, replaced = [], 0
    for block in content:
        if isinstance(block, dict) and block.get("type") == "image":
            out.append({"type": "text", "text": IMAGE_PLACEHOLDER})
            replaced += 1
        elif isinstance(block, dict) and block.get("type") == "tool_result" and isinstance(block.get("content"), list):
            nested, n = _without_images(block["content"])
            out.append({**block, "content": nested} if n else block)
            replaced += n
        else:
            out.append(block)
    return (out, replaced) if replaced else (content, 0)


def replace_images(body: dict[str, Any], limits: ModelLimits) -> tuple[dict[str, Any], str | None]:
    """For a text-only model (``vision = false``): image blocks, also inside ``tool_result``
    content, become a short text placeholder. Returns a new body and a note, or the body unchanged."""
    messages = body.get("messages")
    if limits.vision or not isinstance(messages, list):
        return body, None
    new_messages, total = [], 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        new_content, n = _without_images(content)
        new_messages.append({**message, "content": new_content} if n else message)
        total += n
    if not total:
        return body, None
    return {**body, "messages": new_messages}, f"{total} image(s) replaced by a placeholder (text-only model)"
