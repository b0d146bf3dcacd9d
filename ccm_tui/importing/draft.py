"""What an importer produces: a draft of a ccm-tui config, rendered to commented TOML.

Importers never read the environment: ``$VAR`` references are carried as text and a literal
key is copied as it is (it is the user's own file), with a warning suggesting a variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tomlkit

from ..config import ROUTES

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ROUTE_ORDER = (*ROUTES[:4], "long_context_threshold", *ROUTES[4:])
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


@dataclass
class ProviderDraft:
    name: str
    fields: dict[str, Any]  # ccm-tui provider keys, in the order they are written
    comment: str = ""


@dataclass
class Draft:
    kind: str  # e.g. "claude-code-router config"
    server: dict[str, Any] = field(default_factory=dict)
    providers: dict[str, ProviderDraft] = field(default_factory=dict)
    router: dict[str, Any] = field(default_factory=dict)
    router_comments: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # what could not be carried over
    warnings: list[str] = field(default_factory=list)
    literal_keys: list[str] = field(default_factory=list)  # where a key's value was copied as it is

    def drop(self, what: str, why: str) -> None:
        self.dropped.append(f"{what}: {why}")


def references(value: str) -> list[str]:
    """Names of the ``$VAR``/``${VAR}`` references in a value."""
    return [m.group(1) or m.group(2) for m in _VAR.finditer(value)]


def env_name(provider: str, suffix: str = "API_KEY") -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", provider).strip("_").upper() or "PROVIDER"
    return f"{stem}_{suffix}"


def carry_key(draft: Draft, where: str, value: Any, suggested_var: str, *, local: bool = False) -> str | None:
    """A key as it is written: references unchanged, literals copied with a warning."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        draft.drop(where, f"expected a string, got {type(value).__name__}")
        return None
    if not references(value):
        draft.literal_keys.append(where)
        hint = " (a local server: fine if it is a placeholder)" if local else ""
        draft.warnings.append(
            f"{where}: the source holds a literal key{hint}; it was copied as it is into a 0600 file. "
            f"Better: export {suggested_var}=... and write {where.rsplit('.', 1)[-1]} = \"${suggested_var}\""
        )
    return value


def is_loopback(url: str) -> bool:
    try:
        return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS
    except ValueError:
        return False


def render(draft: Draft, source: str) -> str:
    doc = tomlkit.document()
    doc.add(tomlkit.comment("ccm-tui configuration, written by `ccm-tui config import`"))
    doc.add(tomlkit.comment(f"from the {draft.kind} {source}"))
    doc.add(tomlkit.comment('"$VAR" values are read from the environment when ccm-tui starts.'))
    if draft.literal_keys:
        doc.add(tomlkit.comment(f"Literal keys copied from the source: {', '.join(draft.literal_keys)}"))
    if draft.dropped:
        doc.add(tomlkit.comment("Not carried over (see the import's stderr for why):"))
        for item in draft.dropped:
            doc.add(tomlkit.comment(f"  - {item.splitlines()[0]}"))
    doc.add(tomlkit.nl())
    if draft.server:
        server = tomlkit.table()
        for key, value in draft.server.items():
            server[key] = value
        doc["server"] = server
    providers = tomlkit.table(is_super_table=True)
    for provider in draft.providers.values():
        table = tomlkit.table()
        if provider.comment:
            for line in provider.comment.splitlines():
                table.add(tomlkit.comment(line))
        for key, value in provider.fields.items():
            table[key] = value
        providers[provider.name] = table
    doc["providers"] = providers
    router = tomlkit.table()
    router.comment('every value is "provider,model"')
    for key in ROUTE_ORDER:
        if key in draft.router:
            router[key] = draft.router[key]
            if key in draft.router_comments:
                router[key].comment(draft.router_comments[key])
    doc["router"] = router
    return tomlkit.dumps(doc)
