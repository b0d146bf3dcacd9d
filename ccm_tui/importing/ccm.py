"""A CCM-style TOML that points Claude Code at a LiteLLM proxy → a ``type = "litellm"`` provider.

Accepted (keys are matched case-insensitively; anything else is listed as not carried over)::

    [litellm]                              # required
    name = "litellm"                       # provider name in the output (default "litellm")
    base_url = "http://127.0.0.1:4000"     # also: url, api_base, proxy_url
    api_key = "$LITELLM_MASTER_KEY"        # also: master_key, key
    models = ["claude-sonnet", "gpt-4o"]   # or [[litellm.model_list]] model_name = "..." (LiteLLM's shape)
    timeout = 600                          # seconds
    default = "gpt-4o"                     # route keys, here or in [litellm.routes], [router] or [routes]

Route keys and their aliases (a value is a model name served by the LiteLLM proxy, or a full
``"provider,model"``): default (model, main, sonnet, anthropic_model, anthropic_default_sonnet_model),
background (haiku, fast, small_fast_model, anthropic_small_fast_model, anthropic_default_haiku_model),
think (opus, reasoning, anthropic_default_opus_model), long_context (longContext), web_search
(webSearch), subagent (claude_code_subagent_model), image; plus long_context_threshold.
``[server]`` (host, port, auth_token; token as an alias) is carried, and ``[providers.NAME]``
tables already in ccm-tui's shape are copied (the written file is validated as a whole).
Models named by routes but missing from ``models`` are added to it.
"""

from __future__ import annotations

from typing import Any

from .draft import Draft, ProviderDraft, carry_key, env_name

KIND = "CCM-style LiteLLM config"
DEFAULT_BASE_URL = "http://127.0.0.1:4000"
ROUTE_ALIASES = {
    "default": "default", "model": "default", "main": "default", "sonnet": "default",
    "anthropic_model": "default", "anthropic_default_sonnet_model": "default",
    "background": "background", "haiku": "background", "fast": "background", "small_fast_model": "background",
    "anthropic_small_fast_model": "background", "anthropic_default_haiku_model": "background",
    "think": "think", "opus": "think", "reasoning": "think", "anthropic_default_opus_model": "think",
    "long_context": "long_context", "longcontext": "long_context",
    "web_search": "web_search", "websearch": "web_search",
    "subagent": "subagent", "claude_code_subagent_model": "subagent",
    "image": "image",
}
THRESHOLD_KEYS = ("long_context_threshold", "longcontextthreshold")
BASE_URL_KEYS = ("base_url", "url", "api_base", "proxy_url")
KEY_KEYS = ("api_key", "master_key", "key")


def _lower(table: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k.lower(): (k, v) for k, v in table.items()}


def _first(table: dict[str, tuple[str, Any]], names: tuple[str, ...], used: set[str]) -> Any:
    for name in names:
        if name in table:
            used.add(name)
            return table[name][1]
    return None


def convert(data: dict[str, Any]) -> Draft:
    draft = Draft(KIND)
    top = _lower(data)
    if "litellm" not in top or not isinstance(top["litellm"][1], dict):
        raise ValueError("no [litellm] table: this does not look like a CCM-style LiteLLM config")
    section_name, section = top["litellm"]
    lit = _lower(section)
    used: set[str] = set()
    name = _first(lit, ("name",), used) or "litellm"
    if not isinstance(name, str) or "," in name:
        draft.drop(f"{section_name}.name", f"not a usable provider name: {name!r}; using 'litellm'")
        name = "litellm"
    fields: dict[str, Any] = {"type": "litellm"}
    base_url = _first(lit, BASE_URL_KEYS, used)
    if base_url is not None and not isinstance(base_url, str):
        draft.drop(f"{section_name}.base_url", f"expected a URL, got {type(base_url).__name__}")
        base_url = None
    if base_url is None:
        draft.warnings.append(f"{section_name}: no base_url; using LiteLLM's default {DEFAULT_BASE_URL}")
    fields["base_url"] = (base_url or DEFAULT_BASE_URL).rstrip("/")
    key = carry_key(draft, f"providers.{name}.api_key", _first(lit, KEY_KEYS, used), "LITELLM_MASTER_KEY")
    if key is not None:
        fields["api_key"] = key
    fields["models"] = _models(draft, section_name, lit, used)
    timeout = _first(lit, ("timeout",), used)
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        fields["timeout"] = float(timeout)
    elif timeout is not None:
        draft.drop(f"{section_name}.timeout", f"expected seconds, got {timeout!r}")

    draft.providers[name] = ProviderDraft(name, fields, f"{name}: LiteLLM proxy from [{section_name}]")
    _copy_providers(draft, top)
    route_sources = [(section_name, lit, used)]
    if "routes" in lit and isinstance(lit["routes"][1], dict):
        used.add("routes")
        route_sources.append((f"{section_name}.{lit['routes'][0]}", _lower(lit["routes"][1]), set()))
    for table_name in ("router", "routes"):
        if table_name in top and isinstance(top[table_name][1], dict):
            route_sources.append((top[table_name][0], _lower(top[table_name][1]), set()))
    for where, table, seen in route_sources:
        _routes(draft, name, where, table, seen, only_routes=where != section_name)
    _server(draft, top)
    for key_lower, (original, _) in lit.items():
        if key_lower not in used:
            draft.drop(f"{section_name}.{original}", "unknown key")
    for key_lower, (original, _) in top.items():
        if key_lower not in ("litellm", "router", "routes", "server", "providers"):
            draft.drop(original, "unknown section")
    _default(draft, name)
    return draft


def _models(draft: Draft, section: str, lit: dict[str, tuple[str, Any]], used: set[str]) -> list[str]:
    models = _first(lit, ("models",), used)
    if models is None and "model_list" in lit:
        used.add("model_list")
        entries = lit["model_list"][1]
        models = [e.get("model_name") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else None
    if models is None:
        return []
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        draft.drop(f"{section}.models", f"expected a list of model names, got {models!r}")
        return []
    return list(dict.fromkeys(models))


def _routes(
    draft: Draft, provider: str, where: str, table: dict[str, tuple[str, Any]], used: set[str], *, only_routes: bool
) -> None:
    for key, (original, value) in table.items():
        if key in THRESHOLD_KEYS:
            used.add(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                draft.router.setdefault("long_context_threshold", value)
            else:
                draft.drop(f"{where}.{original}", f"expected a positive integer, got {value!r}")
            continue
        route = ROUTE_ALIASES.get(key)
        if route is None:
            if only_routes:
                draft.drop(f"{where}.{original}", "unknown route")
            continue
        used.add(key)
        if not isinstance(value, str) or not value.strip():
            draft.drop(f"{where}.{original}", f"expected a model name, got {value!r}")
            continue
        target = value.strip() if "," in value else f"{provider},{value.strip()}"
        target_provider, _, model = target.partition(",")
        if target_provider.strip() not in draft.providers:
            draft.drop(f"{where}.{original}", f"{value!r} names no imported provider")
            continue
        if route in draft.router:
            if draft.router[route] != target:
                draft.drop(f"{where}.{original}", f"{route} is already {draft.router[route]!r}")
            continue
        draft.router[route] = target
        models = draft.providers[target_provider.strip()].fields.setdefault("models", [])
        if target_provider.strip() == provider and model.strip() not in models:
            models.append(model.strip())


def _copy_providers(draft: Draft, top: dict[str, tuple[str, Any]]) -> None:
    if "providers" not in top:
        return
    original, providers = top["providers"]
    if not isinstance(providers, dict):
        draft.drop(original, "expected [providers.NAME] tables")
        return
    for name, table in providers.items():
        if name in draft.providers or not isinstance(table, dict):
            draft.drop(f"{original}.{name}", "clashes with the LiteLLM provider" if name in draft.providers
                       else "expected a table")
            continue
        fields = dict(table)
        if "api_key" in fields:
            carried = carry_key(draft, f"providers.{name}.api_key", fields["api_key"], env_name(name))
            if carried is None:
                fields.pop("api_key")
        draft.providers[name] = ProviderDraft(name, fields, f"{name}: copied from [{original}.{name}]")


def _server(draft: Draft, top: dict[str, tuple[str, Any]]) -> None:
    if "server" not in top or not isinstance(top["server"][1], dict):
        return
    original, table = top["server"]
    for key, value in table.items():
        if key in ("host", "port", "max_body_bytes"):
            draft.server[key] = value
        elif key in ("auth_token", "token"):
            token = carry_key(draft, "server.auth_token", value, "CCM_TOKEN")
            if token is not None:
                draft.server["auth_token"] = token
        else:
            draft.drop(f"{original}.{key}", "unknown key")


def _default(draft: Draft, provider: str) -> None:
    if "default" in draft.router:
        return
    models = draft.providers[provider].fields.get("models") or []
    if not models:
        raise ValueError("no default route and no models: add `default = \"MODEL\"` to [litellm]")
    draft.router["default"] = f"{provider},{models[0]}"
    draft.router_comments["default"] = "not in the source: the first model"
    draft.warnings.append(f"no default route: chose {draft.router['default']}; change it if needed")

