"""Turn a parsed TOML mapping into a :class:`Config`, collecting every problem with its line."""

from __future__ import annotations

import re
from typing import Any

from .config import (
    DEFAULT_FIRST_BYTE_TIMEOUT_S,
    DEFAULT_LONG_CONTEXT_THRESHOLD,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    EFFORTS,
    PROVIDER_AUTHS,
    PROVIDER_TYPES,
    ROUTES,
    STATUSLINE_MODES,
    ClaudeSettings,
    Config,
    ConfigError,
    HistorySettings,
    ModelLimits,
    Price,
    ProviderConfig,
    RouterConfig,
    ServerConfig,
    parse_target,
    referenced_vars,
    resolve_vars,
)
from .config_messages import did_you_mean, line_of, shown, unknown
from .provider_options import option_problems
from .providers.openai.presets import PRESETS
from .router_rules import Rule, rule_problems
from .secrets import CLIENT_CREDENTIAL_HEADERS, Secret

OPENAI_PRESETS = tuple(PRESETS)  # one source: the presets themselves
OPENAI_APIS = ("chat", "responses")
DEFAULT_BASE_URLS = {
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "litellm": "http://127.0.0.1:4000",
}
_PROVIDER_KEYS = {
    "type", "base_url", "api_key", "models", "headers", "preset", "max_tokens_cap", "timeout",
    "connect_timeout", "first_byte_timeout", "stall_timeout", "limits", "options", "api", "auth",
}
#: claude's own key variable: with ``auth = "client"`` it stays claude's, so no provider may read it.
CLAUDE_KEY_VAR = "ANTHROPIC_API_KEY"
_ROUTER_KEYS = {*ROUTES, "long_context_threshold", "think_min_effort", "rules", "fallback", "fallbacks"}


def _key_vars(api_key: Any, headers: dict) -> tuple[str, ...]:
    """The environment variables a provider's key and headers are read from."""
    raw = [api_key, *headers.values()]
    return tuple(dict.fromkeys(name for v in raw if isinstance(v, str) for name in referenced_vars(v)))


class _Builder:
    def __init__(self, text: str, env: Any, source: str) -> None:
        self.text, self.env, self.source = text, env, source
        self.problems: list[str] = []
        self.invalid: dict[str, str] = {}  # provider name → its first problem (it is not in the config)

    def problem(self, path: tuple[str, ...], message: str) -> None:
        line = line_of(self.text, path) or (line_of(self.text, path[:-1]) if len(path) > 1 else None)
        where = f"{self.source}:{line}" if line else self.source
        self.problems.append(f"{where}: {'.'.join(path)}: {message}")

    def string(self, data: dict, path: tuple[str, ...], default: str | None = None) -> str | None:
        value = data.get(path[-1], default)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(path, f"expected a string, got {type(value).__name__}")
            return default
        try:
            return resolve_vars(value, self.env, ".".join(path))
        except KeyError as exc:
            self.problem(path, exc.args[0].split(": ", 1)[1])
            return None

    def number(
        self, data: dict, path: tuple[str, ...], kind: type, default: Any, low: float = 0, high: float | None = None
    ) -> Any:
        value = data.get(path[-1], default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            got = type(value).__name__ if isinstance(value, str) else repr(value)  # a misplaced string may be a key
            self.problem(path, f"expected {'a number' if kind is float else 'an integer'}, got {got}")
            return default
        if value < low:
            self.problem(path, f"must be at least {low}, got {value}")
            return default
        if high is not None and value > high:
            self.problem(path, f"must be at most {high}, got {value}")
            return default
        return kind(value)

    def table(self, data: dict, path: tuple[str, ...]) -> dict:
        """``data[key]`` when it is a table (absent: empty); anything else is a problem."""
        value = data.get(path[-1], {})
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {type(value).__name__}")
            return {}
        return value

    def target(self, value: Any, path: tuple[str, ...], providers: dict[str, ProviderConfig]) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"expected \"provider,model\", got {value!r}")
            return None
        try:
            resolved = resolve_vars(value, self.env, ".".join(path))
        except KeyError as exc:
            self.problem(path, exc.args[0].split(": ", 1)[1])
            return None
        try:
            provider, model = parse_target(resolved)
        except ValueError:
            self.problem(path, f"expected \"provider,model\", got {shown(value, resolved)}")
            return None
        if provider in self.invalid:
            self.problem(path, f"provider {provider!r} is invalid ({self.invalid[provider]})")
            return None
        if provider not in providers:
            which = repr(provider) if value == resolved else f"in {shown(value, resolved)}"
            defined = [*providers, *(f"{name} (invalid)" for name in self.invalid)]
            hint = did_you_mean(provider, [*providers, *self.invalid])
            self.problem(path, f"unknown provider {which}{hint} (defined: {', '.join(defined) or 'none'})")
            return None
        return f"{provider},{model}"

    # -- sections --------------------------------------------------------------------------
    def server(self, data: dict) -> ServerConfig:
        token = self.string(data, ("server", "auth_token"))
        return ServerConfig(
            host=self.string(data, ("server", "host"), "127.0.0.1") or "127.0.0.1",
            port=self.number(data, ("server", "port"), int, 0, high=65535),
            auth_token=Secret(token) if token else None,
            max_body_bytes=self.number(data, ("server", "max_body_bytes"), int, DEFAULT_MAX_BODY_BYTES, 1024),
            max_response_bytes=self.number(data, ("server", "max_response_bytes"), int, DEFAULT_MAX_RESPONSE_BYTES,
                                           1024),
        )

    def provider(self, name: str, data: Any) -> ProviderConfig | None:
        base = ("providers", name)
        if not isinstance(data, dict):
            self.problem(base, "expected a table")
            return None
        for key in sorted(set(data) - _PROVIDER_KEYS):
            self.problem((*base, key), unknown(key, _PROVIDER_KEYS))
        kind = data.get("type")
        preset = self.string(data, (*base, "preset"))
        if kind not in PROVIDER_TYPES:
            self.problem((*base, "type"), f"must be one of {', '.join(PROVIDER_TYPES)}, got {kind!r}")
            return None
        if preset is not None and (kind != "openai" or preset not in OPENAI_PRESETS):
            self.problem((*base, "preset"), f"presets are for type=\"openai\": one of {', '.join(OPENAI_PRESETS)}")
            preset = None
        api = self.string(data, (*base, "api"))
        if api is not None and (kind != "openai" or api not in OPENAI_APIS):
            got = repr(api) if data.get("api") == api else f"the value of {data['api']}"
            self.problem((*base, "api"), f"api is for type=\"openai\": one of {', '.join(OPENAI_APIS)}, got {got}")
            api = None
        base_url = self.string(data, (*base, "base_url")) or DEFAULT_BASE_URLS.get(kind)
        if base_url is None and preset is None:
            self.problem((*base, "base_url"), "required (or give a preset)")
        elif base_url is not None and not re.match(r"^https?://[^/\s]+", base_url):
            self.problem((*base, "base_url"), f"must be an http(s) URL, got {shown(data['base_url'], base_url)}")
        key = self.string(data, (*base, "api_key"))
        models = data.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            self.problem((*base, "models"), "expected a list of model names")
            models = []
        headers = data.get("headers", {})
        if not isinstance(headers, dict):
            self.problem((*base, "headers"), "expected a table of header = value")
            headers = {}
        resolved_headers = {}
        for header in headers:
            value = self.string(headers, (*base, "headers", header))
            if value is not None:
                resolved_headers[header] = Secret(value)
        auth = self.auth(data, base, kind, resolved_headers)
        return ProviderConfig(
            name=name,
            type=kind,
            base_url=(base_url or "").rstrip("/"),
            api_key=Secret(key) if key else None,
            models=list(models),
            headers=resolved_headers,
            preset=preset,
            max_tokens_cap=self.number(data, (*base, "max_tokens_cap"), int, None, 1),
            timeout=self.number(data, (*base, "timeout"), float, 600.0, 0.001),
            connect_timeout=self.number(data, (*base, "connect_timeout"), float, 10.0, 0.001),
            first_byte_timeout=self.number(data, (*base, "first_byte_timeout"), float,
                                           DEFAULT_FIRST_BYTE_TIMEOUT_S, 0.001),
            stall_timeout=self.number(data, (*base, "stall_timeout"), float, None, 0.001),
            limits=self.limits(data.get("limits", {}), (*base, "limits")),
            options=self.options(kind, data, (*base, "options")),
            api=api,
            key_vars=_key_vars(data.get("api_key"), headers),
            auth=auth,
        )

    def auth(self, data: dict, base: tuple[str, ...], kind: str, headers: dict[str, Secret]) -> str:
        """``auth``: "key" (the provider's api_key) or "client" (claude's own credential, Anthropic only)."""
        auth = data.get("auth", "key")
        if auth not in PROVIDER_AUTHS:
            self.problem((*base, "auth"), "expected \"key\" (the provider's api_key) or \"client\" (claude's own login)")
            return "key"
        if auth == "client" and kind != "anthropic":
            self.problem((*base, "auth"), "auth = \"client\" is for type = \"anthropic\": claude's own credential "
                                          "is only good at Anthropic")
            return "key"
        if auth == "client" and "api_key" in data:
            self.problem((*base, "api_key"), "not used with auth = \"client\" (claude's own credential is forwarded): "
                                             "remove it")
        for header in headers:
            if auth == "client" and header.lower() in CLIENT_CREDENTIAL_HEADERS:
                self.problem((*base, "headers"), f"{header}: with auth = \"client\" this header carries claude's "
                                                 "own credential: remove it")
        return auth

    def client_auth(self, raw: dict, providers: dict[str, ProviderConfig]) -> None:
        """At most one provider takes claude's credential, and then none reads claude's key variable."""
        clients = [p.name for p in providers.values() if p.auth == "client"]
        for name in clients[1:]:
            self.problem(("providers", name, "auth"), f"only one provider may use auth = \"client\" "
                                                      f"(already: {clients[0]!r})")
        if not clients:
            return
        for provider in providers.values():
            if CLAUDE_KEY_VAR not in provider.key_vars:
                continue
            entry = raw.get(provider.name, {})
            api_key = entry.get("api_key")
            where = "api_key" if isinstance(api_key, str) and CLAUDE_KEY_VAR in referenced_vars(api_key) else "headers"
            self.problem(("providers", provider.name, where),
                         f"reads ${CLAUDE_KEY_VAR}, which stays claude's own key while provider {clients[0]!r} uses "
                         "auth = \"client\": put this provider's key in another variable")

    def options(self, kind: str, data: dict, path: tuple[str, ...]) -> dict[str, Any]:
        """``options``, each known to the provider type and of the right shape (see provider_options)."""
        options = dict(self.table(data, path))
        for name, problem in option_problems(kind, options):
            self.problem((*path, name), problem)
        return options

    def limits(self, data: Any, path: tuple[str, ...]) -> dict[str, ModelLimits]:
        if not isinstance(data, dict):
            self.problem(path, "expected a table of \"MODEL\" = { context_window = N, max_output_tokens = N }")
            return {}
        out = {}
        for model, entry in data.items():
            if not isinstance(entry, dict):
                self.problem((*path, model), "expected an inline table")
                continue
            vision = entry.get("vision", True)
            if not isinstance(vision, bool):
                self.problem((*path, model, "vision"), "expected true or false")
                vision = True
            out[model] = ModelLimits(
                context_window=self.number(entry, (*path, model, "context_window"), int, None, 1),
                max_output_tokens=self.number(entry, (*path, model, "max_output_tokens"), int, None, 1),
                vision=vision,
            )
        return out

    def router(self, data: dict, providers: dict[str, ProviderConfig]) -> RouterConfig:
        for key in sorted(set(data) - _ROUTER_KEYS):
            self.problem(("router", key), unknown(key, _ROUTER_KEYS, f"routes: {', '.join(ROUTES)}"))
        routes = {}
        for route in ROUTES:
            if route in data:
                target = self.target(data[route], ("router", route), providers)
                if target:
                    routes[route] = target
        if "default" not in data:
            self.problem(("router", "default"), "required: the route every other route falls back to")
        threshold = self.number(
            data, ("router", "long_context_threshold"), int, DEFAULT_LONG_CONTEXT_THRESHOLD, 1
        )
        effort = data.get("think_min_effort")
        if effort is not None and effort not in EFFORTS:
            self.problem(("router", "think_min_effort"), f"one of {', '.join(EFFORTS)}")
            effort = None
        rules: list[Rule] = []
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
            self.problem(("router", "rules"), "expected [[router.rules]] tables")
        else:
            for i, rule in enumerate(raw_rules):
                problems = rule_problems(rule)
                for problem in problems:
                    self.problem(("router", "rules", str(i)), problem)
                target = self.target(rule.get("target"), ("router", "rules", str(i), "target"), providers)
                if target and not problems:
                    rules.append(Rule.from_table(rule, target))
        fallbacks = {}
        raw_fallbacks = data.get("fallbacks", {})
        if not isinstance(raw_fallbacks, dict):
            self.problem(("router", "fallbacks"), "expected a table: route = [\"provider,model\", ...]")
        else:
            for route, items in raw_fallbacks.items():
                if route not in ROUTES:
                    self.problem(("router", "fallbacks", route), unknown(route, ROUTES).replace("key", "route", 1))
                    continue
                fallbacks[route] = self.target_list(items, ("router", "fallbacks", route), providers)
        return RouterConfig(
            routes=routes,
            long_context_threshold=threshold,
            think_min_effort=effort,
            rules=tuple(rules),
            fallback=self.target_list(data.get("fallback", []), ("router", "fallback"), providers),
            fallbacks=fallbacks,
        )

    def target_list(self, items: Any, path: tuple[str, ...], providers: dict) -> list[str]:
        if not isinstance(items, list):
            self.problem(path, "expected a list of \"provider,model\"")
            return []
        return [t for t in (self.target(item, path, providers) for item in items) if t]

    def history(self, data: dict) -> HistorySettings:
        for key in sorted(set(data) - {"enabled", "path", "retention_days", "max_mib", "bodies"}):
            self.problem(("history", key), unknown(key, ("enabled", "path", "retention_days", "max_mib", "bodies"),
                                                   "enabled, path, retention_days, max_mib, bodies"))
        flags = {}
        for key in ("enabled", "bodies"):
            value = data.get(key, True)
            if not isinstance(value, bool):
                self.problem(("history", key), f"expected true or false, got {value!r}")
                value = True
            flags[key] = value
        return HistorySettings(
            enabled=flags["enabled"],
            path=self.string(data, ("history", "path")),
            retention_days=self.number(data, ("history", "retention_days"), float, 14.0, 0.001),
            max_mib=self.number(data, ("history", "max_mib"), int, 256, 1),
            bodies=flags["bodies"],
        )

    def claude(self, data: dict) -> ClaudeSettings:
        for key in sorted(set(data) - {"statusline", "model_discovery", "compact_window"}):
            self.problem(("claude", key), unknown(key, ("statusline", "model_discovery", "compact_window"),
                                                  "statusline, model_discovery, compact_window"))
        statusline = data.get("statusline", "keep")
        if statusline not in STATUSLINE_MODES:
            self.problem(("claude", "statusline"), f"expected one of {', '.join(STATUSLINE_MODES)}, got {statusline!r}")
            statusline = "keep"
        flags = {}
        for key in ("model_discovery", "compact_window"):
            value = data.get(key, True)
            if not isinstance(value, bool):
                self.problem(("claude", key), f"expected true or false, got {value!r}")
                value = True
            flags[key] = value
        return ClaudeSettings(statusline=statusline, **flags)

    def prices(self, data: Any) -> dict[str, Price]:
        if not isinstance(data, dict):
            self.problem(("prices",), "expected a table: \"MODEL\" = { input = USD/Mtok, output = USD/Mtok }")
            return {}
        out = {}
        for model, entry in data.items():
            if not isinstance(entry, dict):
                self.problem(("prices", model), "expected { input = N, output = N }")
                continue
            out[model] = Price(
                input=self.number(entry, ("prices", model, "input"), float, 0.0),
                output=self.number(entry, ("prices", model, "output"), float, 0.0),
            )
        return out


SECTIONS = frozenset({"server", "providers", "router", "budget", "prices", "history", "claude"})


def build_config(data: dict[str, Any], text: str, env: Any, source: str) -> Config:
    b = _Builder(text, env, source)
    for key in sorted(set(data) - SECTIONS):
        b.problem((key,), unknown(key, SECTIONS).replace("key", "section", 1))
    providers: dict[str, ProviderConfig] = {}
    raw_providers = data.get("providers", {})
    if not isinstance(raw_providers, dict) or not raw_providers:
        b.problem(("providers",), "at least one [providers.NAME] table is required")
    else:
        for name, entry in raw_providers.items():
            before = len(b.problems)
            provider = b.provider(name, entry)
            if provider:
                providers[name] = provider
            elif len(b.problems) > before:
                b.invalid[name] = b.problems[before].split(": ", 1)[-1]
        b.client_auth(raw_providers, providers)
    router = b.router(b.table(data, ("router",)), providers)
    budget = b.table(data, ("budget",))
    cfg = Config(
        server=b.server(b.table(data, ("server",))),
        providers=providers,
        router=router,
        budget_usd=b.number(budget, ("budget", "max_usd"), float, None),
        budget_tokens=b.number(budget, ("budget", "max_tokens"), int, None),
        prices=b.prices(data.get("prices", {})),
        history=b.history(b.table(data, ("history",))),
        claude=b.claude(b.table(data, ("claude",))),
    )
    if b.problems:
        raise ConfigError(b.problems)
    return cfg
