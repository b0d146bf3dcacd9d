"""The first run: which provider keys the environment holds, and a config written from them.

Keys stay references (``api_key = "$OPENAI_API_KEY"``): the file never holds a key's value. The
routes are a sensible start: Anthropic models where an Anthropic key (or claude's own login) is
there, else the first provider found; Gemini's long window for long contexts when its key is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from .secrets import write_private


@dataclass(frozen=True, slots=True)
class KnownProvider:
    name: str  # the provider table's name
    label: str
    variables: tuple[str, ...]  # any of these holds its key (first set wins)
    table: dict[str, str]  # type and preset / base_url
    main: str  # the default route's model
    small: str  # the background route's model


KNOWN: tuple[KnownProvider, ...] = (
    KnownProvider("anthropic", "Anthropic", ("ANTHROPIC_API_KEY",),
                  {"type": "anthropic", "base_url": "https://api.anthropic.com"}, "claude-sonnet-4-5",
                  "claude-haiku-4-5"),
    KnownProvider("openai", "OpenAI", ("OPENAI_API_KEY",), {"type": "openai", "preset": "openai"}, "gpt-4.1",
                  "gpt-4.1-mini"),
    KnownProvider("openrouter", "OpenRouter", ("OPENROUTER_API_KEY",), {"type": "openai", "preset": "openrouter"},
                  "anthropic/claude-sonnet-4.5", "anthropic/claude-haiku-4.5"),
    KnownProvider("gemini", "Gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
                  {"type": "gemini", "base_url": "https://generativelanguage.googleapis.com"}, "gemini-2.5-pro",
                  "gemini-2.5-flash"),
    KnownProvider("deepseek", "DeepSeek", ("DEEPSEEK_API_KEY",), {"type": "openai", "preset": "deepseek"},
                  "deepseek-chat", "deepseek-chat"),
    KnownProvider("groq", "Groq", ("GROQ_API_KEY",), {"type": "openai", "preset": "groq"},
                  "moonshotai/kimi-k2-instruct", "llama-3.1-8b-instant"),
    KnownProvider("mistral", "Mistral", ("MISTRAL_API_KEY",), {"type": "openai", "preset": "mistral"},
                  "devstral-medium-latest", "mistral-small-latest"),
    KnownProvider("xai", "xAI", ("XAI_API_KEY",), {"type": "openai", "preset": "xai"}, "grok-code-fast-1",
                  "grok-code-fast-1"),
)


@dataclass(frozen=True, slots=True)
class FoundKey:
    provider: KnownProvider
    variable: str | None  # the variable that holds its key; None: not set


def scan(env: Mapping[str, str]) -> list[FoundKey]:
    """Every known provider, with the variable that holds its key (None when none is set)."""
    return [FoundKey(p, next((v for v in p.variables if env.get(v, "").strip()), None)) for p in KNOWN]


def first_config(env: Mapping[str, str], *, keep_claude_login: bool = False) -> str:
    """A commented config for the keys in ``env``; ``keep_claude_login``: Anthropic via claude's own login."""
    found = [f for f in scan(env) if f.variable]
    if keep_claude_login:  # claude's credential serves Anthropic; no provider may read $ANTHROPIC_API_KEY then
        found = [f for f in found if f.provider.name != "anthropic"]
        found.insert(0, FoundKey(KNOWN[0], None))
    elif not found:  # nothing found: Anthropic, reading the key once it is set
        found = [FoundKey(KNOWN[0], "ANTHROPIC_API_KEY")]
    doc = tomlkit.document()
    doc.add(tomlkit.comment("ccm-tui configuration, written on the first run (README: \"Configuration\")."))
    doc.add(tomlkit.comment("Keys stay references to environment variables: this file never holds a key."))
    doc.add(tomlkit.nl())
    providers = tomlkit.table(is_super_table=True)
    for item in found:
        p = item.provider
        table = tomlkit.table()
        for key, value in p.table.items():
            table[key] = value
        if item.variable is None:
            table["auth"] = "client"
            table["auth"].comment("claude's own login (or its ANTHROPIC_API_KEY) pays for this provider")
        else:
            table["api_key"] = f"${item.variable}"
        table["models"] = list(dict.fromkeys([p.main, p.small]))
        providers[p.name] = table
    doc["providers"] = providers
    main = found[0].provider
    router = tomlkit.table()
    router.add(tomlkit.comment('every value is "provider,model"; F4 in the dashboard changes them'))
    router["default"] = f"{main.name},{main.main}"
    router["background"] = f"{main.name},{main.small}"
    router["background"].comment("titles and summaries: a small, fast model")
    if any(f.provider.name == "gemini" for f in found) and main.name != "gemini":
        router["long_context"] = "gemini,gemini-2.5-pro"
        router["long_context"].comment("1M-token window for long conversations")
    doc["router"] = router
    return tomlkit.dumps(doc)


def write_first_config(path: Path, text: str) -> None:
    """Write the file (0600, folders 0700); an existing file is never replaced."""
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    write_private(path, text)
