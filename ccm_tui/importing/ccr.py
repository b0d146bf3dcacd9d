"""claude-code-router ``config.json`` → a ccm-tui config draft.

Carried: ``Providers`` (name, api_base_url, api_key, models, transformer), ``Router`` (default,
background, think, longContext, longContextThreshold, webSearch, image), ``APIKEY``/``HOST``/``PORT``
→ ``[server]``, ``API_TIMEOUT_MS`` → each provider's ``timeout``. ``api_base_url`` decides the
provider type: Chat Completions URLs → ``openai`` (base_url trimmed to the API root, a ``preset``
when the host or a transformer names one), Gemini's host → ``gemini``, Anthropic's host or a
``/v1/messages`` URL → ``anthropic``. Transformers the type or preset already covers are absorbed;
``maxtoken`` becomes ``max_tokens_cap``; every other transformer, and every unknown key, is listed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .draft import Draft, ProviderDraft, carry_key, env_name, is_loopback, references

KIND = "claude-code-router config"
ROUTER_KEYS = {
    "default": "default", "background": "background", "think": "think", "longContext": "long_context",
    "webSearch": "web_search", "image": "image",
}
#: Hosts whose OpenAI-compatible API has a ccm-tui preset.
HOST_PRESETS = {
    "openrouter.ai": "openrouter", "api.deepseek.com": "deepseek", "api.groq.com": "groq",
    "api.together.xyz": "together", "api.together.ai": "together", "api.openai.com": "openai",
    "api.mistral.ai": "mistral", "api.x.ai": "xai",
}
PORT_PRESETS = {11434: "ollama", 1234: "lmstudio"}  # only on loopback hosts (ollama's port anywhere)
#: Transformers that only adapt a server's dialect, which a preset or provider type covers.
TRANSFORMER_PRESETS = {"openrouter": "openrouter", "deepseek": "deepseek", "groq": "groq"}
TRANSFORMER_TYPES = {"gemini": "gemini", "anthropic": "anthropic", "openai": "openai"}
GEMINI_HOST = "generativelanguage.googleapis.com"
UNCARRIED_TOP = {
    "PROXY_URL": "set HTTPS_PROXY in the environment instead (ccm-tui's HTTP client honours it)",
    "LOG": "ccm-tui always logs to its state directory",
    "LOG_LEVEL": "ccm-tui always logs to its state directory",
    "NON_INTERACTIVE_MODE": "no equivalent: ccm-tui starts claude itself",
    "CUSTOM_ROUTER_PATH": "JavaScript routers cannot run in ccm-tui; use [[router.rules]]",
    "transformers": "custom JavaScript transformers cannot run in ccm-tui",
    "StatusLine": "no equivalent: the TUI shows route and usage itself",
}


def convert(data: dict[str, Any]) -> Draft:
    draft = Draft(KIND)
    providers = _get(data, "Providers")
    if not isinstance(providers, list) or not providers:
        raise ValueError("no Providers list: this does not look like a claude-code-router config.json")
    timeout = _timeout(draft, data.get("API_TIMEOUT_MS"))
    for index, entry in enumerate(providers):
        provider = _provider(draft, index, entry, timeout)
        if provider is None:
            continue
        if provider.name in draft.providers:
            draft.drop(f"Providers[{index}]", f"a second provider named {provider.name!r}; the first one was kept")
            continue
        draft.providers[provider.name] = provider
    _server(draft, data)
    router = _get(data, "Router")
    _router(draft, router if isinstance(router, dict) else {})
    for key in data:
        if key in ("Providers", "providers", "Router", "router", "APIKEY", "HOST", "PORT", "API_TIMEOUT_MS"):
            continue
        if data[key] in ("", None, False, [], {}):
            continue  # unset: nothing to carry
        draft.drop(key, UNCARRIED_TOP.get(key, "unknown key"))
    return draft


def _get(data: dict[str, Any], key: str) -> Any:
    return data.get(key, data.get(key.lower()))


def _timeout(draft: Draft, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        draft.drop("API_TIMEOUT_MS", f"expected a positive number of milliseconds, got {value!r}")
        return None
    return value / 1000


def _server(draft: Draft, data: dict[str, Any]) -> None:
    host, port, key = data.get("HOST"), data.get("PORT"), data.get("APIKEY")
    if isinstance(host, str) and host:
        draft.server["host"] = host
    elif host is not None:
        draft.drop("HOST", f"expected a string, got {host!r}")
    if isinstance(port, int) and not isinstance(port, bool) and 0 <= port < 65536:
        draft.server["port"] = port
    elif isinstance(port, str) and port.isdigit():
        draft.server["port"] = int(port)
    elif port is not None:
        draft.drop("PORT", f"expected a port number, got {port!r}")
    token = carry_key(draft, "server.auth_token", key, "CCM_TOKEN")
    if token is not None:
        draft.server["auth_token"] = token


def _transformers(spec: Any) -> list[tuple[str, Any]]:
    """``{"use": ["a", ["b", {opts}]]}`` → ``[("a", None), ("b", {opts})]``."""
    items = spec.get("use", []) if isinstance(spec, dict) else []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, list) and item and isinstance(item[0], str):
            out.append((item[0], item[1] if len(item) > 1 else None))
    return out


def classify(url: str, used: list[str]) -> tuple[str, str, str | None]:
    """``api_base_url`` (and the transformers in use) → ``(type, base_url, preset)``."""
    if references(url):  # a URL from the environment: keep it, trim only what is visible
        return "openai", _trim(url.rstrip("/"), ("/chat/completions",)), None
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    host = (parts.hostname or "").lower()
    forced = next((TRANSFORMER_TYPES[t] for t in used if t in TRANSFORMER_TYPES), None)
    if forced == "gemini" or (forced is None and host == GEMINI_HOST and not path.endswith("/chat/completions")):
        return "gemini", root, None
    if forced == "anthropic" or (forced is None and (host == "api.anthropic.com" or path.endswith("/v1/messages"))):
        return "anthropic", root + _trim(path, ("/v1/messages", "/v1")), None
    base = root + _trim(path, ("/chat/completions", "/completions", "/responses"))
    preset = HOST_PRESETS.get(host)
    if preset is None and parts.port in PORT_PRESETS and (is_loopback(url) or parts.port == 11434):
        preset = PORT_PRESETS[parts.port]
    if preset is None:
        preset = next((TRANSFORMER_PRESETS[t] for t in used if t in TRANSFORMER_PRESETS), None)
    return "openai", base, preset


def _trim(path: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _provider(draft: Draft, index: int, entry: Any, timeout: float | None) -> ProviderDraft | None:
    if not isinstance(entry, dict):
        draft.drop(f"Providers[{index}]", "expected an object")
        return None
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or "," in name:
        draft.drop(f"Providers[{index}]", f"needs a name without commas, got {name!r}")
        return None
    where = f"providers.{name}"
    url = entry.get("api_base_url")
    if not isinstance(url, str) or not (references(url) or urlsplit(url.strip()).scheme in ("http", "https")):
        got = type(url).__name__ if not isinstance(url, str) else "something else (not shown: it may be a key)"
        draft.drop(where, f"api_base_url must be an http(s) URL, got {got}; provider skipped")
        return None
    spec = entry.get("transformer") or {}
    global_use = _transformers(spec)
    kind, base_url, preset = classify(url, [t for t, _ in global_use])
    if urlsplit(url).query:
        draft.drop(f"{where}.api_base_url", f"the query string of {_shown(url)} is not carried (it may hold a key)")
    if references(url):
        draft.warnings.append(f"{where}: api_base_url comes from the environment ({url}); assumed OpenAI-compatible")
    if kind == "openai" and urlsplit(url).path.rstrip("/").endswith("/responses"):
        draft.warnings.append(f"{where}: {_shown(url)} is the Responses API; ccm-tui will use Chat Completions at {base_url}")
    fields: dict[str, Any] = {"type": kind}
    if preset:
        fields["preset"] = preset
    fields["base_url"] = base_url
    key = carry_key(draft, f"{where}.api_key", entry.get("api_key"), env_name(name), local=is_loopback(url))
    if key is not None:
        fields["api_key"] = key
    models = entry.get("models", [])
    if isinstance(models, list) and all(isinstance(m, str) and m for m in models):
        fields["models"] = list(models)
    else:
        draft.drop(f"{where}.models", f"expected a list of model names, got {models!r}")
    carried = _carry_transformers(draft, where, kind, preset, global_use, fields)
    if isinstance(spec, dict):
        for model, model_spec in spec.items():
            if model == "use":
                continue
            for t, options in _transformers(model_spec):
                draft.drop(f"{where} transformer {t!r} for model {model}", _why_not(t, options))
    if timeout is not None:
        fields["timeout"] = timeout
    for extra in sorted(set(entry) - {"name", "api_base_url", "api_key", "models", "transformer"}):
        draft.drop(f"{where}.{extra}", "unknown provider key")
    comment = f"{name}: from {_shown(url)}"
    if carried:
        comment += f"\ntransformers carried: {'; '.join(carried)}"
    return ProviderDraft(name, fields, comment)


def _shown(url: str) -> str:
    """A URL for messages and comments: no query string or user info (either may hold a key)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _as(kind: str, preset: str | None) -> str:
    return f"type {kind}" + (f", preset {preset}" if preset else "")


def _carry_transformers(
    draft: Draft, where: str, kind: str, preset: str | None, used: list[tuple[str, Any]], fields: dict[str, Any]
) -> list[str]:
    carried = []
    for name, options in used:
        covered = TRANSFORMER_TYPES.get(name) == kind or (
            kind == "openai" and name in TRANSFORMER_PRESETS and TRANSFORMER_PRESETS[name] == preset
        )
        if covered:
            carried.append(f"{name} → {_as(kind, preset)}")
            if options:
                draft.drop(f"{where} transformer {name!r} options {options!r}", "options have no ccm-tui equivalent")
        elif name == "maxtoken" and isinstance(options, dict) and isinstance(options.get("max_tokens"), int):
            fields["max_tokens_cap"] = options["max_tokens"]
            carried.append(f"maxtoken → max_tokens_cap = {options['max_tokens']}")
        else:
            draft.drop(f"{where} transformer {name!r}", _why_not(name, options))
    return carried


def _why_not(name: str, options: Any) -> str:
    if name in TRANSFORMER_TYPES or name in TRANSFORMER_PRESETS:
        return "does not match the provider's URL; check the imported type/preset"
    return "no ccm-tui equivalent" + (f" (options {options!r})" if options else "")


def _router(draft: Draft, router: dict[str, Any]) -> None:
    for key, value in router.items():
        route = ROUTER_KEYS.get(key)
        if key == "longContextThreshold":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                draft.router["long_context_threshold"] = value
            elif isinstance(value, str) and value.isdigit() and int(value) > 0:
                draft.router["long_context_threshold"] = int(value)
            else:
                draft.drop("Router.longContextThreshold", f"expected a positive integer, got {value!r}")
            continue
        if route is None:
            draft.drop(f"Router.{key}", "unknown route")
            continue
        if value in (None, ""):
            continue  # unset in claude-code-router's UI
        target = _target(draft, f"Router.{key}", value)
        if target:
            draft.router[route] = target
    if "default" not in draft.router:
        first = next((p for p in draft.providers.values() if p.fields.get("models")), None)
        if first is None:
            raise ValueError("Router.default is missing and no provider lists a model to default to")
        draft.router["default"] = f"{first.name},{first.fields['models'][0]}"
        draft.router_comments["default"] = "not in the source: the first provider's first model"
        draft.warnings.append(f"Router.default is missing: chose {draft.router['default']}; change it if needed")


def _target(draft: Draft, where: str, value: Any) -> str | None:
    if not isinstance(value, str) or "," not in value:
        draft.drop(where, f"expected \"provider,model\", got {value!r}")
        return None
    provider, _, model = value.partition(",")
    provider, model = provider.strip(), model.strip()
    if provider not in draft.providers or not model:
        draft.drop(where, f"{value!r} names no imported provider")
        return None
    return f"{provider},{model}"
