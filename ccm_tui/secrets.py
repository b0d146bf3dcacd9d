"""Secrets are values, not strings to print; and the one redaction function every view uses."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

REDACTED = "***"
#: The header that carries the proxy token when claude keeps its own login (a provider with
#: ``auth = "client"``): claude sends it on every request through ``ANTHROPIC_CUSTOM_HEADERS``.
PROXY_TOKEN_HEADER = "x-ccm-token"
#: Set by the proxy's own replay (with the proxy token in ``x-ccm-token``): the id of the replayed flow.
REPLAY_HEADER = "x-ccm-replay-of"
#: Where claude puts its own credential (login token or ``ANTHROPIC_API_KEY``).
CLIENT_CREDENTIAL_HEADERS = ("authorization", "x-api-key")
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization", "cookie", "set-cookie",
     PROXY_TOKEN_HEADER}
)
#: Credentials learned at run time (claude's own, forwarded to a provider) that a Redactor keeps masking.
MAX_LEARNED_SECRETS = 64


class Secret:
    """A key or token. ``str()``/``repr()`` never show it; ``reveal()`` does, on purpose."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _revealed(secrets: Iterable[Secret | str | None]) -> set[str]:
    return {s.reveal() if isinstance(s, Secret) else s for s in secrets if s is not None}


class Redactor:
    """Replaces known secret values anywhere in text or nested data, and sensitive headers."""

    def __init__(self, secrets: Iterable[Secret | str | None] = ()) -> None:
        self._configured = _revealed(secrets)
        self._learned: dict[str, None] = {}  # insertion-ordered: the oldest goes first past the cap
        self._lock = threading.Lock()
        self._compile()

    def _compile(self) -> None:
        values = {*self._configured, *self._learned}
        #: The secret strings (4+ characters), longest first: a key containing another goes whole.
        ordered = tuple(sorted((v for v in values if v and len(v) >= 4), key=len, reverse=True))
        # one attribute swap: a reader on another thread sees the old state or the new one, never half
        self._state = (ordered, re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None)

    @property
    def values(self) -> tuple[str, ...]:
        return self._state[0]

    def learn(self, secret: Secret | str) -> None:
        """Mask ``secret`` from now on too (claude's own credential, seen on a request); the most
        recent :data:`MAX_LEARNED_SECRETS` are kept (a login token is refreshed now and then)."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value or value in self._configured or value in self._learned:
            return
        with self._lock:
            self._learned[value] = None
            while len(self._learned) > MAX_LEARNED_SECRETS:
                del self._learned[next(iter(self._learned))]
            self._compile()

    def include(self, secrets: Iterable[Secret | str | None]) -> None:
        """Also redact these (a reloaded config's new keys); values already known are kept."""
        values = _revealed(secrets)
        with self._lock:
            if not values <= self._configured:
                self._configured |= values
                self._compile()

    def text(self, value: str) -> str:
        pattern = self._state[1]
        return pattern.sub(REDACTED, value) if pattern else value

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        items = headers.items() if isinstance(headers, Mapping) else headers
        return {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else self.text(v)) for k, v in items}

    def data(self, value: Any) -> Any:
        """Deep copy of JSON-like data with secret values redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value


def redact_url(url: str, keep: Iterable[str] = ()) -> str:
    """A URL fit to print: user-info (``user:password@``) and query values hidden (but those of the
    parameters named in ``keep``), the rest kept."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    host = parts.netloc.rpartition("@")
    netloc = f"{REDACTED}@{host[2]}" if host[1] else parts.netloc
    kept = set(keep)
    query = "&".join(f"{k}={v if k in kept else REDACTED}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = REDACTED
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment and REDACTED))


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Create ``path`` and its missing parents with mode 0700; ``tighten`` also makes an existing
    ``path`` 0700 (only for ccm-tui's own folders, never one the user chose)."""
    missing = []
    at = path
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    if tighten and path.is_dir():
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write atomically (a temporary file beside it, flushed to disk, then renamed over it), by
    default with mode 0600 (folders it creates: 0700): config files hold keys (or references to
    them). A failure (disk full) leaves the old file as it was."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
