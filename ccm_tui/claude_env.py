"""The environment the claude child starts with (embedded pane and ``--no-embed`` alike).

The child is untrusted: it runs tools a model chose, sometimes a third-party model, so anything in
its environment can end up in a prompt or a tool call. It gets the proxy's URL and token and the
user's environment (their tools need it), never a provider key: not the variables the config reads
keys from, not any variable holding a key's value, and not ``ANTHROPIC_API_KEY``.

With a provider of ``auth = "client"`` claude keeps its own login: ``ANTHROPIC_API_KEY`` (no
provider may read it then) and ``ANTHROPIC_AUTH_TOKEN`` stay as the user set them, and the proxy
token travels as a header line added to the user's ``ANTHROPIC_CUSTOM_HEADERS``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from .config import Config
from .secrets import PROXY_TOKEN_HEADER, SENSITIVE_HEADERS

#: Variables that make claude think it runs in another terminal (tmux, iTerm, VS Code...).
FOREIGN_TERMINAL = ("TMUX", "TMUX_PANE", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "TERMINAL_EMULATOR")
#: claude's own credential: it would compete with the proxy token, and with the embedded default it
#: is the upstream key. With a provider that forwards claude's own credentials (``auth = "client"``) it stays.
CLAUDE_CREDENTIALS = ("ANTHROPIC_API_KEY",)
CUSTOM_HEADERS = "ANTHROPIC_CUSTOM_HEADERS"


def claude_env(config: Config, proxy_env: Mapping[str, str], *, embedded: bool,
               environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) less every key variable, plus ``proxy_env``.

    ``embedded``: claude runs in the pane's emulator, which sets ``TERM``/``COLORTERM`` itself (from the
    colour depth it renders to), so the outer terminal's identity is dropped here.
    """
    source = os.environ if environ is None else environ
    withheld = set() if config.client_auth_provider() is not None else set(CLAUDE_CREDENTIALS)
    for provider in config.providers.values():
        withheld.update(provider.key_vars)
    values = set(_key_values(config))
    env = {name: value for name, value in source.items() if name not in withheld and value not in values}
    if embedded:
        for name in FOREIGN_TERMINAL:
            env.pop(name, None)
    users_headers = env.get(CUSTOM_HEADERS, "")
    env.update(proxy_env)
    if CUSTOM_HEADERS in proxy_env:
        env[CUSTOM_HEADERS] = merge_custom_headers(users_headers, proxy_env[CUSTOM_HEADERS])
    return env


def merge_custom_headers(users: str, ours: str) -> str:
    """The user's ``ANTHROPIC_CUSTOM_HEADERS`` lines, then ours; a user line naming our header goes."""
    kept = [line for line in users.splitlines()
            if line.strip() and line.partition(":")[0].strip().lower() != PROXY_TOKEN_HEADER]
    return "\n".join([*kept, ours])


def _key_values(config: Config) -> Iterator[str]:
    """Every configured key: api keys, credential headers, and the token of ``Bearer <token>``."""
    for provider in config.providers.values():
        secrets = [provider.api_key, *(v for k, v in provider.headers.items() if _is_credential_header(k))]
        for secret in secrets:
            value = secret.reveal().strip() if secret else ""
            if value:
                yield value
                scheme, _, token = value.partition(" ")
                if scheme.lower() in _AUTH_SCHEMES and token.strip():
                    yield token.strip()


_AUTH_SCHEMES = ("bearer", "token", "basic")


def _is_credential_header(name: str) -> bool:
    """A header that carries a credential (not ``X-Title``, ``HTTP-Referer``...)."""
    lowered = name.lower()
    return lowered in SENSITIVE_HEADERS or any(word in lowered for word in ("key", "token", "auth", "secret"))
