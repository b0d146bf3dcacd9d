"""Write-back: one change applied to the config file as it is on disk now.

The file is the user's and may have been edited since it was loaded, so a change never starts
from a document parsed earlier: the file is read again, the one value is changed with tomlkit
(comments, order and layout kept), the whole result is validated, and it replaces the file
atomically — the symlink's target when the path is a link (dotfiles), with the target's mode.
Only a write that succeeded yields the new snapshot; a failure raises and changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from .config import Config, ConfigError, check_route, parse_config, parse_target, real_file
from .secrets import write_private


def write_route(config: Config, route: str, target: str | None, *, env: Any = None) -> Config:
    """Set (or, with None, remove) ``[router] route`` in ``config.path``; returns the new snapshot.

    Without a file (the built-in passthrough) the change holds for this session only. Raises
    :class:`ConfigError` (unknown route or provider, or the file as it is now does not load) or
    :class:`OSError` (it cannot be read or written); the file is then untouched.
    """
    key = check_route(config, route, target)
    if config.path is None or config.embedded_default:
        return config.with_route(key, target)
    path = real_file(config.path)
    try:
        text = path.read_text(encoding="utf-8")
        mode = stat.S_IMODE(path.stat().st_mode)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{config.path}: cannot read: {exc}"]) from None
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise ConfigError([f"{config.path}:{exc.line}: TOML syntax error: {exc}"]) from None
    table = doc.get("router")
    if table is None:
        table = doc["router"] = tomlkit.table()
    if target is None:
        table.pop(key, None)
    else:
        table[key] = target
        _add_model(doc, *parse_target(target))
    new_text = tomlkit.dumps(doc)
    updated = parse_config(new_text, env=os.environ if env is None else env, source=str(config.path))
    check_route(updated, key, target)  # the file's providers may have changed since the last load
    write_private(path, new_text, mode=mode)
    return dataclasses.replace(updated, path=config.path)


def _add_model(doc: Any, provider: str, model: str) -> None:
    """A model typed for a route joins its provider's ``models`` (so pickers and /model list it)."""
    entry = doc.get("providers", {}).get(provider)
    if not hasattr(entry, "get"):
        return
    models = entry.get("models")
    if models is None:
        entry["models"] = [model]
    elif isinstance(models, list) and model not in models:
        models.append(model)
