"""``ccm-tui config import``: other tools' configs → a commented ccm-tui TOML.

One module per foreign format (:mod:`.ccr` for claude-code-router's ``config.json``, :mod:`.ccm`
for a CCM-style TOML with a ``[litellm]`` table); each turns parsed data into a
:class:`~.draft.Draft`, which is rendered, validated as ccm-tui would load it, and written 0600.
The environment is never read: keys stay ``$VAR`` references.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from ..config import ConfigError, parse_config
from ..secrets import redact_url, write_private
from . import ccm, ccr
from .draft import Draft, references, render

__all__ = ["run_import", "convert_text", "Draft"]


class SourceError(Exception):
    """The source cannot be read or is not a config we know."""


_JSON_STRING = r'"(?:\\.|[^"\\])*"'
_COMMENTS = re.compile(_JSON_STRING + r"|//[^\n]*|/\*.*?\*/", re.DOTALL)
_TRAILING_COMMAS = re.compile(_JSON_STRING + r"|,(\s*[}\]])")


def _strip_json5(text: str) -> str:
    """Remove comments and trailing commas outside strings (claude-code-router reads JSON5)."""
    text = _COMMENTS.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)
    return _TRAILING_COMMAS.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0), text)


def _parse_json(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            data = json.loads(_strip_json5(text))
        except json.JSONDecodeError:
            raise SourceError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise SourceError(f"{source}: expected a JSON object at the top")
    return data


def convert_text(text: str, source: str) -> tuple[Draft, str]:
    """Source text → (draft, rendered TOML); raises :class:`SourceError`."""
    looks_json = source.endswith((".json", ".json5", ".jsonc")) or text.lstrip().startswith(("{", "//", "/*"))
    try:
        if looks_json:
            draft = ccr.convert(_parse_json(text, source))
        else:
            try:
                data = tomlkit.parse(text).unwrap()
            except ParseError as exc:
                raise SourceError(f"{source}:{exc.line}: invalid TOML: {exc}") from None
            draft = ccm.convert(data)
    except ValueError as exc:
        raise SourceError(f"{source}: {exc}") from None
    return draft, render(draft, source)


class _AnyVar(Mapping[str, str]):
    """An environment where every variable is set, so validation checks structure, not the shell.

    A URL-shaped value passes both the base_url check and any string field."""

    def __getitem__(self, key: str) -> str:
        return "http://placeholder.invalid"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def run_import(source: Path, dest: Path, *, force: bool) -> int:
    """Exit code: 0 written, 1 DEST exists (no ``--force``), 2 source unreadable or unusable."""
    if dest.exists() and not force:
        print(f"ccm-tui: {dest} exists; use --force to overwrite (or --output another path)", file=sys.stderr)
        return 1
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"ccm-tui: cannot read {source}: {exc}", file=sys.stderr)
        return 2
    try:
        draft, output = convert_text(text, str(source))
    except SourceError as exc:
        print(f"ccm-tui: {exc}", file=sys.stderr)
        return 2
    try:
        parse_config(output, env=_AnyVar(), source=str(dest))
    except ConfigError as exc:
        print(f"ccm-tui: the {draft.kind} {source} does not make a valid ccm-tui config:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    try:
        write_private(dest, output)
    except OSError as exc:
        print(f"ccm-tui: cannot write {dest}: {exc}", file=sys.stderr)
        return 2
    _report(draft, dest, source)
    return 0


def _variables(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(references(value))
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(_variables(v) for v in value))
    return set()


def _report(draft: Draft, dest: Path, source: Path) -> None:
    print(f"wrote {dest} from the {draft.kind} {source}")
    for provider in draft.providers.values():
        f = provider.fields
        preset = f" preset={f['preset']}" if "preset" in f else ""
        models = f.get("models", [])
        url = redact_url(f["base_url"]) if isinstance(f.get("base_url"), str) else ""
        print(f"  providers.{provider.name}: type={f.get('type')}{preset} {url} ({len(models)} models)")
    for route, target in draft.router.items():
        print(f"  router.{route} = {target}")
    variables = sorted(_variables([draft.server, *(p.fields for p in draft.providers.values()), draft.router]))
    if variables:
        print(f"set before starting ccm-tui: {', '.join('$' + v for v in variables)}")
    for warning in draft.warnings:
        print(f"ccm-tui: warning: {warning}", file=sys.stderr)
    for item in draft.dropped:
        print(f"ccm-tui: not carried over: {item}", file=sys.stderr)
