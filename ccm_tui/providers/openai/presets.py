"""What differs between servers that speak OpenAI Chat Completions.

A preset fills ``base_url`` and the quirks the translator needs. ``[providers.X.options]`` may
override any quirk by name (e.g. ``options = { echo_reasoning = "reasoning_content" }``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

#: Marks thinking blocks this proxy synthesised from an OpenAI-compatible reasoning field; they
#: carry no Anthropic signature and must never be replayed to Anthropic as-is.
THINKING_SIGNATURE = "ccm:openai"


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    base_url: str = ""
    #: Assistant-message field previous thinking is echoed in (None: thinking is dropped).
    echo_reasoning: str | None = None
    #: Server accepts ``stream_options: {include_usage: true}``.
    stream_usage: bool = True
    #: How thinking/effort is sent: "reasoning_effort", "openrouter" (``reasoning: {effort}``) or None.
    effort_style: str | None = None
    #: Models (regex, searched in the model name) that reason: max_completion_tokens instead of
    #: max_tokens, no temperature/top_p, reasoning_effort only for them. None: no such distinction.
    reasoning_models: str | None = None
    #: Effort values the server accepts, weakest first. Claude Code's ``low < medium < high <
    #: xhigh < max`` falls to the highest of these at or below it (``max`` → the strongest here).
    effort_levels: tuple[str, ...] = ("low", "medium", "high")
    top_k: bool = False
    send_user: bool = True
    #: "system" keeps mid-conversation system messages in place; "merge" folds them into the
    #: leading system message (chat templates that raise on a late system turn: Qwen3, Mistral).
    mid_system: str = "system"
    extra_headers: tuple[tuple[str, str], ...] = ()
    #: Reasoning arrives inline as ``<think>…</think>`` in content (no server-side reasoning parser).
    think_tags: bool = False
    #: How the Anthropic ``web_search_*`` server tool runs here: "plugin" (OpenRouter's web
    #: plugin), "options" (OpenAI ``web_search_options``) or "none" (a typed 400). See websearch.py.
    web_search: str = "none"
    #: Models (regex) that can search when ``web_search = "options"``; None: any model.
    search_models: str | None = None
    #: Tool call ids must be 9 alphanumeric characters (Mistral): others in the history are mapped.
    short_tool_ids: bool = False
    #: "chat" (``/chat/completions``) or "responses" (``/responses``); ``api`` in the provider table wins.
    api: str = "chat"
    #: Send a session-stable ``prompt_cache_key`` (the Chat path; the Responses path always does).
    prompt_cache_key: bool = False
    #: Models (regex) that cache only at ``cache_control`` breakpoints, kept from Claude Code's request.
    cache_control_models: str | None = None


PRESETS: dict[str, Preset] = {
    "openai": Preset(
        "openai", "https://api.openai.com/v1", effort_style="reasoning_effort",
        reasoning_models=r"(^|/)(o\d|gpt-5)", effort_levels=("minimal", "low", "medium", "high"),
        web_search="options", search_models=r"search", prompt_cache_key=True,
    ),
    "openai-responses": Preset(
        "openai-responses", "https://api.openai.com/v1", reasoning_models=r"(^|/)(o\d|gpt-5|codex)",
        effort_levels=("minimal", "low", "medium", "high"), api="responses",
    ),
    "openrouter": Preset(
        "openrouter", "https://openrouter.ai/api/v1", echo_reasoning="reasoning", effort_style="openrouter",
        effort_levels=("minimal", "low", "medium", "high", "xhigh"), top_k=True, extra_headers=(("X-Title", "ccm-tui"),), web_search="plugin",
        cache_control_models=r"^(anthropic|google)/",
    ),
    "deepseek": Preset("deepseek", "https://api.deepseek.com/v1", echo_reasoning="reasoning_content"),
    # Groq: gpt-oss takes reasoning_effort low | medium | high; its other models reject it.
    "groq": Preset("groq", "https://api.groq.com/openai/v1", stream_usage=False, effort_style="reasoning_effort",
                   reasoning_models=r"gpt-oss"),
    # Mistral: strict about unknown fields (no stream_options, no user), usage comes anyway;
    # reasoning (magistral) arrives as ``thinking`` content parts, read whatever the preset.
    "mistral": Preset("mistral", "https://api.mistral.ai/v1", stream_usage=False, send_user=False, mid_system="merge",
                      short_tool_ids=True),
    # xAI: only grok-3-mini takes reasoning_effort (low | high); the other grok models reject it.
    "xai": Preset("xai", "https://api.x.ai/v1", effort_style="reasoning_effort", reasoning_models=r"grok-3-mini",
                  effort_levels=("low", "high")),
    "ollama": Preset("ollama", "http://127.0.0.1:11434/v1", top_k=True, mid_system="merge"),
    "vllm": Preset("vllm", "http://127.0.0.1:8000/v1", top_k=True, mid_system="merge"),
    "lmstudio": Preset("lmstudio", "http://127.0.0.1:1234/v1", top_k=True, mid_system="merge"),
    "together": Preset("together", "https://api.together.xyz/v1", stream_usage=False, top_k=True),
}

GENERIC = Preset("generic")


def get_preset(name: str | None, options: dict[str, Any] | None = None) -> Preset:
    """The named preset (generic when None) with ``options`` overriding its quirks."""
    preset = PRESETS.get(name or "", GENERIC)
    fields = {f.name for f in dataclasses.fields(Preset)} - {"name"}
    overrides = {k: v for k, v in (options or {}).items() if k in fields}
    if "effort_levels" in overrides:
        overrides["effort_levels"] = tuple(overrides["effort_levels"])
    if "extra_headers" in overrides:
        overrides["extra_headers"] = tuple(dict(overrides["extra_headers"]).items())
    return dataclasses.replace(preset, **overrides) if overrides else preset


def is_reasoning_model(preset: Preset, model: str) -> bool:
    return bool(preset.reasoning_models and re.search(preset.reasoning_models, model))
