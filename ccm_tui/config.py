"""Configuration: an immutable snapshot of the TOML file, ``$VAR`` resolution, validation.

A :class:`Config` is frozen: the proxy holds the current one and swaps it whole (hot reload,
route switches, :mod:`ccm_tui.config_file`), and each request keeps the snapshot it started
with. Keys are :class:`Secret` objects so that no repr, log line or pane shows them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .router_rules import Rule
from .secrets import Secret

PROVIDER_TYPES = ("anthropic", "openai", "gemini", "litellm")
#: ``auth``: "key" sends the provider's api_key; "client" (type = "anthropic") forwards claude's own
#: credential (its login, or its ANTHROPIC_API_KEY) unchanged, and claude proves itself with a header.
PROVIDER_AUTHS = ("key", "client")
ROUTES = ("default", "background", "think", "long_context", "web_search", "subagent", "image")
#: Decision route names that differ from their config key (the fixtures and the UI say "websearch").
ROUTE_KEYS = {"websearch": "web_search"}
#: ``output_config.effort`` levels as Claude Code sends them (``--effort``), lowest first
#: (``router.think_min_effort`` names one); each provider maps them to what it accepts.
EFFORTS = ("low", "medium", "high", "xhigh", "max")
DEFAULT_LONG_CONTEXT_THRESHOLD = 60_000
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # an upstream answer, decoded, streamed or not
DEFAULT_FIRST_BYTE_TIMEOUT_S = 60.0
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class ConfigError(Exception):
    """Invalid configuration; ``problems`` holds one human line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def route_key(route: str) -> str:
    """The ``[router]`` key that configures a decision's route."""
    return ROUTE_KEYS.get(route, route)


def default_config_path() -> Path:
    """``--config`` wins over ``$CCM_CONFIG``, which wins over the XDG config dir."""
    env = os.environ.get("CCM_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("ccm-tui")) / "config.toml"


def real_file(path: Path) -> Path:
    """The file a write must replace: a symlink (chain) resolved to its target."""
    return Path(os.path.realpath(path))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir("ccm-tui"))


def parse_target(value: str) -> tuple[str, str]:
    """``"provider,model"`` → ``("provider", "model")``; the model may itself contain commas."""
    provider, sep, model = value.partition(",")
    if not sep or not provider.strip() or not model.strip():
        raise ValueError(f"{value!r} is not of the form 'provider,model'")
    return provider.strip(), model.strip()


@dataclass(frozen=True, slots=True)
class ModelLimits:
    context_window: int | None = None
    max_output_tokens: int | None = None
    vision: bool = True


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    type: str
    base_url: str
    api_key: Secret | None = None
    models: list[str] = field(default_factory=list)
    headers: dict[str, Secret] = field(default_factory=dict)
    preset: str | None = None
    max_tokens_cap: int | None = None
    timeout: float = 600.0  # read timeout: long generations are slow between bytes
    connect_timeout: float = 10.0
    first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT_S  # a stream's headers and first event must come within this
    stall_timeout: float | None = None  # no event for this long mid-stream → timeout_error
    limits: dict[str, ModelLimits] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # provider-specific extras
    api: str | None = None  # type = "openai": "chat" or "responses" (None: the preset's)
    key_vars: tuple[str, ...] = ()  # environment variables the key and headers are read from
    auth: str = "key"  # "key" | "client": claude's own credential, forwarded (type = "anthropic")


@dataclass(frozen=True, slots=True)
class RouterConfig:
    routes: dict[str, str] = field(default_factory=dict)  # route → "provider,model"
    long_context_threshold: int = DEFAULT_LONG_CONTEXT_THRESHOLD
    think_min_effort: str | None = None  # adaptive thinking at/above this effort counts as think
    rules: tuple[Rule, ...] = ()
    fallback: list[str] = field(default_factory=list)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)

    def target(self, route: str) -> str | None:
        """The target of a route, falling back to ``default``."""
        return self.routes.get(route_key(route)) or self.routes.get("default")

    def fallbacks_for(self, route: str) -> list[str]:
        """``[router.fallbacks]`` for this route, else the shared ``fallback`` list."""
        return self.fallbacks.get(route_key(route), self.fallback)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    auth_token: Secret | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """``[history]``: every flow kept in SQLite in the XDG state folder (``ccm-tui history``/``usage``)."""

    enabled: bool = True
    path: str | None = None  # default: <state dir>/history.sqlite3
    retention_days: float = 14.0
    max_mib: int = 256  # bodies beyond this are dropped, oldest first; metadata stays for the retention
    bodies: bool = True  # false: metadata only


STATUSLINE_MODES = ("keep", "ccm", "off")


@dataclass(frozen=True, slots=True)
class ClaudeSettings:
    """``[claude]``: what ccm-tui tells the claude it starts (docs/claude-integration.md)."""

    statusline: str = "keep"  # keep: ours unless the user has one; ccm: ours always; off: none
    model_discovery: bool = True  # /model lists the configured models
    compact_window: bool = True  # compact at the window of the model the default route uses


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # USD per million input tokens
    output: float


@dataclass(frozen=True, slots=True)
class Config:
    """One validated snapshot of the file (never mutated: derive a new one with ``with_route``)."""

    server: ServerConfig = field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    router: RouterConfig = field(default_factory=RouterConfig)
    budget_usd: float | None = None
    budget_tokens: int | None = None
    prices: dict[str, Price] = field(default_factory=dict)
    history: HistorySettings = field(default_factory=HistorySettings)
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)
    path: Path | None = None
    embedded_default: bool = False  # no file: pure passthrough to Anthropic
    pinned: str | None = None  # session-only "send everything to this provider,model" (never written)

    def client_auth_provider(self) -> ProviderConfig | None:
        """The provider that gets claude's own credential (``auth = "client"``; at most one)."""
        return next((p for p in self.providers.values() if p.auth == "client"), None)

    def all_models(self) -> list[tuple[str, str]]:
        return [(p.name, m) for p in self.providers.values() for m in p.models]

    def with_route(self, route: str, target: str | None) -> Config:
        """This snapshot with one route changed (the file is not touched: see ``config_file``)."""
        route = check_route(self, route, target)
        routes = {k: v for k, v in self.router.routes.items() if k != route}
        if target is not None:
            routes[route] = target
        return dataclasses.replace(self, router=dataclasses.replace(self.router, routes=routes))


def check_route(config: Config, route: str, target: str | None) -> str:
    """The ``[router]`` key for ``route``; ConfigError for an unknown route or provider."""
    key = route_key(route)
    if key not in ROUTES:
        raise ConfigError([f"router.{key}: unknown route (one of {', '.join(ROUTES)})"])
    if target is not None:
        try:
            provider, _ = parse_target(target)
        except ValueError as exc:
            raise ConfigError([f"router.{key}: {exc}"]) from None
        if provider not in config.providers:
            raise ConfigError([f"router.{key}: unknown provider {provider!r}"])
    return key


_TEMPLATE_KEY = 'api_key = "$ANTHROPIC_API_KEY"\n'
_TEMPLATE_LOGIN = 'auth = "client"          # claude\'s own login (or its ANTHROPIC_API_KEY), forwarded unchanged\n'


def template(*, keep_claude_login: bool = False) -> str:
    """The commented file ``ccm-tui config init`` writes. ``keep_claude_login``: the Anthropic
    provider uses claude's own login (``auth = "client"``) instead of ``$ANTHROPIC_API_KEY``
    (the first-run screen's "keep my Claude login")."""
    text = (Path(__file__).with_name("config_template.toml")).read_text(encoding="utf-8")
    if keep_claude_login:
        head, sep, tail = text.partition(_TEMPLATE_KEY)  # the first one: [providers.anthropic]'s
        lines = tail.splitlines(keepends=True)
        while lines and lines[0].startswith("#"):  # the commented auth example it replaces
            lines.pop(0)
        text = head + _TEMPLATE_LOGIN + "".join(lines) if sep else text
    return text


def embedded_default() -> Config:
    key = os.environ.get("ANTHROPIC_API_KEY")
    provider = ProviderConfig(
        name="anthropic",
        type="anthropic",
        base_url=os.environ.get("CCM_ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
        api_key=Secret(key) if key else None,
        key_vars=("ANTHROPIC_API_KEY",),
    )
    return Config(providers={"anthropic": provider}, embedded_default=True)


def load_config(path: Path | str | None = None, *, env: dict[str, str] | None = None) -> Config:
    """Load and validate; no file at the default path means the embedded passthrough default.

    An explicitly named file (argument or ``$CCM_CONFIG``) must exist.
    """
    explicit = path is not None or bool(os.environ.get("CCM_CONFIG"))
    file = Path(path).expanduser() if path is not None else default_config_path()
    if not file.exists():
        if explicit:
            raise ConfigError([f"{file}: no such config file (create one with `ccm-tui config init`)"])
        return dataclasses.replace(embedded_default(), path=file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a directory, no permission, not UTF-8
        raise ConfigError([f"{file}: cannot read: {exc}"]) from None
    return dataclasses.replace(parse_config(text, env=os.environ if env is None else env, source=str(file)), path=file)


def parse_config(text: str, *, env: Any = None, source: str = "config") -> Config:
    from .config_validate import build_config  # validation lives in its own module

    try:  # tomllib reads (stdlib, light); tomlkit only where a write must keep the file's comments
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigError([f"{source}:{line.group(1) if line else '?'}: TOML syntax error: {exc}"]) from None
    return build_config(data, text, os.environ if env is None else env, source)


def referenced_vars(value: str) -> list[str]:
    """Names of the ``$VAR``/``${VAR}`` references in ``value``."""
    return [braced or bare for braced, bare in _VAR.findall(value)]


def resolve_vars(value: str, env: Any, key: str) -> str:
    """Replace ``$VAR``/``${VAR}``; a missing variable is an error naming the key."""
    if "$" not in value:
        return value

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in env:
            raise KeyError(f"{key}: environment variable ${name} is not set")
        return env[name]

    return _VAR.sub(sub, value)
