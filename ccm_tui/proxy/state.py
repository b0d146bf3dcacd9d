"""What the request handlers share: the session, bus, token, redactor, and the provider clients."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..config import Config
from ..errors import NotFound
from ..events import EventBus, FlowEvent
from ..flow import Flow
from ..providers import Provider, build_provider
from ..secrets import CLIENT_CREDENTIAL_HEADERS, PROXY_TOKEN_HEADER, REPLAY_HEADER, Redactor, Secret
from .session import Session
from .status import SessionSummaries

log = logging.getLogger(__name__)


def config_secrets(config: Config) -> list[Secret | None]:
    """Every key and header value of a config's providers (what the redactor must hide)."""
    return [s for p in config.providers.values() for s in (p.api_key, *p.headers.values())]


class ProxyState:
    def __init__(self, config: Config, bus: EventBus, token: Secret, redactor: Redactor) -> None:
        self.session = Session(config, bus)
        self.bus = bus
        self.token = token
        self.redactor = redactor
        self._providers: dict[str, Provider] = {}
        self.summaries = SessionSummaries()  # per claude session, for the statusline
        self.ended = 0  # flows released so far
        bus.subscribe(self.summaries.on_event)
        self._retired: list[Provider] = []  # replaced by a reload; requests that started before still use them
        self._holds: dict[int, list[Provider]] = {}  # flow id → providers it used (until the flow ends)
        self._users: Counter[int] = Counter()  # id(provider) → flows in flight that used it
        self._closing: set[asyncio.Task[Any]] = set()
        bus.subscribe_session(lambda update: redactor.include(config_secrets(update.config)))

    @property
    def config(self) -> Config:
        """The snapshot in force now; a request reads it once and keeps it."""
        return self.session.config

    def authorized(self, headers: Mapping[str, str]) -> bool:
        """The proxy token in ``x-ccm-token``; or, unless claude keeps its own login (a provider with
        ``auth = "client"``: those headers are then claude's credential), in x-api-key or a Bearer."""
        expected = self.token.reveal().encode()
        candidates = [headers.get(PROXY_TOKEN_HEADER, "")]
        if self.config.client_auth_provider() is None:
            candidates.append(headers.get("x-api-key", ""))
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                candidates.append(auth[7:].strip())
        return any(c and hmac.compare_digest(c.encode(), expected) for c in candidates)

    def replay_of(self, headers: Mapping[str, str]) -> int | None:
        """The flow a request replays: only the proxy's own replay, which proves itself with x-ccm-token."""
        value, token = headers.get(REPLAY_HEADER, ""), headers.get(PROXY_TOKEN_HEADER, "")
        if not (value.isascii() and value.isdigit() and len(value) < 12 and token):
            return None
        return int(value) if hmac.compare_digest(token.encode(), self.token.reveal().encode()) else None

    def headers_for(self, config: Config, provider: str, headers: Mapping[str, str]) -> dict[str, str]:
        """The incoming headers as ``provider`` may see them: claude's own credential only for the
        provider with ``auth = "client"`` in ``config`` (the request's snapshot), which forwards it; the
        redactor masks it from then on."""
        settings = config.providers.get(provider)
        keep_credential = settings is not None and settings.auth == "client"
        out: dict[str, str] = {}
        for name, value in headers.items():
            name = name.lower()
            if name in out or name in (PROXY_TOKEN_HEADER, REPLAY_HEADER):
                continue
            if name in CLIENT_CREDENTIAL_HEADERS:
                if not keep_credential:
                    continue
                scheme, _, token = value.partition(" ")
                self.redactor.learn(token.strip() if scheme.lower() == "bearer" and token.strip() else value)
            out[name] = value
        return out

    def provider(self, name: str, config: Config, flow: Flow) -> Provider:
        """The client for provider ``name`` as ``config`` (the request's snapshot) defines it,
        held for ``flow`` until :meth:`release`.

        Created on first use on the proxy's own loop, and again when a reload changed its
        settings; a provider whose settings did not change keeps its connection pool. A replaced
        one serves the requests that started before and is closed once the last of them ends.
        """
        settings = config.providers.get(name)
        if settings is None:
            raise NotFound(f"no provider named {name!r} in the config")
        provider = self._providers.get(name)
        limit = config.server.max_response_bytes
        if provider is None or provider.config != settings or provider.max_response_bytes != limit:
            # a request that started before the reload finds its own; else a new one replaces the current
            provider = next((p for p in self._retired if p.name == name and p.config == settings
                             and p.max_response_bytes == limit), None)
            if provider is None:
                current = self._providers.get(name)
                provider = self._providers[name] = build_provider(settings, max_response_bytes=limit)
                if current is not None:
                    self._retire(current)
        held = self._holds.setdefault(flow.id, [])
        if provider not in held:
            held.append(provider)
            self._users[id(provider)] += 1
        return provider

    def open_providers(self) -> int:
        """Provider clients open now: the current ones and replaced ones still in use."""
        return len(self._providers) + len(self._retired)

    def activity(self) -> tuple[int, int]:
        """(flows holding a provider now, flows ended so far)."""
        return len(self._holds), self.ended

    def release(self, flow: Flow) -> None:
        """The flow ended: a replaced provider nobody uses any more is closed."""
        self.ended += 1
        for provider in self._holds.pop(flow.id, ()):
            self._users[id(provider)] -= 1
            if self._users[id(provider)] <= 0:
                del self._users[id(provider)]
                if provider in self._retired:
                    self._retire(provider)

    def _retire(self, provider: Provider) -> None:
        if self._users.get(id(provider)):
            if provider not in self._retired:
                self._retired.append(provider)
            return
        if provider in self._retired:
            self._retired.remove(provider)
        task = asyncio.get_running_loop().create_task(self._close(provider))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, provider: Provider) -> None:
        try:
            await provider.aclose()
        except Exception:  # noqa: BLE001 - a pool that fails to close must not fail a request
            log.exception("closing provider %r failed", provider.name)

    def publish(self, event: FlowEvent, flow: Flow) -> None:
        self.bus.publish(event, flow)

    async def aclose(self) -> None:
        """Close every provider's connection pool, even when one of them fails to close."""
        providers, self._providers = [*self._providers.values(), *self._retired], {}
        self._retired = []
        if self._closing:
            await asyncio.wait(set(self._closing))
        for provider in providers:
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001 - shutting down: log it and close the rest
                log.exception("closing provider %r failed", provider.name)
