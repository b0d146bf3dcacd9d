"""The session the proxy owns: the config snapshot in force (its pin included), the spend ledger.

Everything here runs on the proxy's loop. Other threads (the TUI) change it only through
:meth:`ccm_tui.proxy.server.ProxyServer.command`, and learn of every change from the
:class:`~ccm_tui.events.SessionUpdate` the bus carries. A request reads ``config`` once when it
starts and keeps that snapshot to its end, so a swap never reaches a request half-way.

Hot reload: :meth:`watch` polls the file (its symlink target, inode, size and mtime); an edit
that loads is swapped in, one that does not keeps the current snapshot and reports its problems.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from pathlib import Path

from ..config import Config, ConfigError, load_config, parse_target, real_file
from ..events import EventBus, SessionUpdate
from .budget import Ledger

log = logging.getLogger(__name__)
RELOAD_POLL_S = 1.0  # how often the file is looked at
SETTLE_S = 0.1  # an editor may write in steps: read once the file has stopped changing
#: [server] keys bound when the socket opened (and [history], opened at start): a reload records
#: them, the next start applies them.
RESTART_KEYS = ("host", "port", "auth_token")

Stamp = tuple[str, int, int, int] | None


def file_stamp(path: Path | None) -> Stamp:
    """(target, inode, size, mtime) of the file behind ``path``; None when there is none."""
    if path is None:
        return None
    try:
        real = real_file(path)
        st = os.stat(real)
    except OSError:
        return None
    return str(real), st.st_ino, st.st_size, st.st_mtime_ns


def changes(old: Config, new: Config) -> str:
    """What differs between two snapshots, in a few words."""
    parts = [name for name in ("providers", "router", "prices") if getattr(old, name) != getattr(new, name)]
    if (old.budget_usd, old.budget_tokens) != (new.budget_usd, new.budget_tokens):
        parts.append("budget")
    if old.server != new.server:
        parts.append("server")
    if old.history != new.history:
        parts.append("history")
    text = ", ".join(parts) or "nothing that matters"
    later = [f"server.{k}" for k in RESTART_KEYS if getattr(old.server, k) != getattr(new.server, k)]
    later += ["[history]"] if old.history != new.history else []
    if later:
        text += f" ({', '.join(later)}: at the next start)"
    return text


class Session:
    def __init__(self, config: Config, bus: EventBus) -> None:
        self.config = config
        self.ledger = Ledger()
        self.bus = bus
        self.path = config.path
        self._stamp = file_stamp(self.path)
        self._lock = asyncio.Lock()  # one reload or write at a time

    @property
    def pinned(self) -> str | None:
        return self.config.pinned

    def _publish(self, kind: str, message: str, problems: tuple[str, ...] = ()) -> None:
        self.bus.publish_session(SessionUpdate(self.config, kind, message, problems))

    def _swap(self, config: Config, kind: str, message: str) -> None:
        """Put ``config`` in force, keeping the session's pin (one assignment: requests already
        running keep the snapshot they took)."""
        self.config = dataclasses.replace(config, pinned=self.config.pinned) if kind != "pin" else config
        self._publish(kind, message)

    # -- commands (run on the proxy loop) -----------------------------------------------------
    async def pin(self, target: str | None) -> str:
        """Send every request to ``target`` for this session (None: routes apply again)."""
        if target is not None:
            try:
                provider, _ = parse_target(target)
            except ValueError as exc:
                raise ConfigError([str(exc)]) from None
            if provider not in self.config.providers:
                raise ConfigError([f"unknown provider {provider!r} (configured: {', '.join(self.config.providers)})"])
        message = f"pinned to {target}" if target else "unpinned: routes apply again"
        self._swap(dataclasses.replace(self.config, pinned=target), "pin", message)
        return message

    async def set_route(self, route: str, target: str | None) -> str:
        """Change a route in the file (as it is on disk now), then in force; raises, changing nothing."""
        # config_file brings tomlkit (comment-keeping writes): loaded on a first switch, not in every proxy
        from ..config_file import write_route

        async with self._lock:
            config = await asyncio.to_thread(write_route, self.config, route, target)
            if config.path is not None and not config.embedded_default:
                self._stamp = file_stamp(config.path)  # our own write is not an external edit
            where = f"saved to {config.path}" if not config.embedded_default else "this session only"
            message = f"{route} → {target or 'default'} ({where})"
            provider, _, model = (target or "").partition(",")
            if target and (provider, model) not in self.config.all_models() and (provider, model) in \
                    config.all_models():
                message += f"; {model} added to the models of {provider!r}"
            self._swap(config, "route", message)
            return message

    async def reload(self, why: str = "file changed") -> bool:
        """Load the file again: swap it in when valid, else keep the current snapshot and say why."""
        async with self._lock:
            path = self.path
            if path is None:
                return False
            self._stamp = file_stamp(path)
            if self._stamp is None and self.config.embedded_default:
                return False  # still no file: the built-in passthrough stays
            try:
                config = await asyncio.to_thread(load_config, path)
            except ConfigError as exc:
                log.warning("config reload (%s) refused: %s", why, exc)
                self._publish("refused", f"{path}: edit not applied ({why}); the previous config stays in force",
                              tuple(exc.problems))
                return False
            config = dataclasses.replace(config, path=path, pinned=self.config.pinned)
            if config == self.config:
                return False
            message = f"config reloaded ({why}): {changes(self.config, config)}"
            log.info(message)
            self._swap(config, "reload", message)
            return True

    async def watch(self, interval: float = RELOAD_POLL_S) -> None:
        """Reload whenever the file behind the config path changes (until cancelled)."""
        while True:
            await asyncio.sleep(interval)
            stamp = file_stamp(self.path)
            if stamp == self._stamp:
                continue
            await asyncio.sleep(SETTLE_S)
            while (latest := file_stamp(self.path)) != stamp:
                stamp = latest
                await asyncio.sleep(SETTLE_S)
            if stamp is None:
                self._stamp = None
                if not self.config.embedded_default:
                    self._publish("missing", f"{self.path}: the config file is gone; the current config stays in force")
                continue
            try:
                await self.reload()
            except Exception:  # noqa: BLE001 - the watcher must outlive a bug in one reload
                log.exception("config reload failed")
