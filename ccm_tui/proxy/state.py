"""What the request handlers share: config, bus, token, redactor, and the provider clients."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

from ..config import Config
from ..errors import NotFound
from ..events import EventBus, FlowEvent
from ..flow import Flow
from ..providers import Provider, build_provider
from ..secrets import Redactor, Secret
from .status import SessionSummaries

log = logging.getLogger(__name__)


class ProxyState:
    def __init__(self, config: Config, bus: EventBus, token: Secret, redactor: Redactor) -> None:
        self.config = config
        self.bus = bus
        self.token = token
        self.redactor = redactor
        self._providers: dict[str, Provider] = {}
        self.spent_usd = 0.0
        self.spent_tokens = 0
        self.summaries = SessionSummaries()  # per claude session, for the statusline
        bus.subscribe(self.summaries.on_event)

    def authorized(self, headers: Mapping[str, str]) -> bool:
        expected = self.token.reveal().encode()
        candidates = [headers.get("x-api-key", "")]
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            candidates.append(auth[7:].strip())
        return any(c and hmac.compare_digest(c.encode(), expected) for c in candidates)

    def provider(self, name: str) -> Provider:
        """The provider's client, created on first use on the proxy's own loop."""
        provider = self._providers.get(name)
        if provider is None:
            config = self.config.providers.get(name)
            if config is None:
                raise NotFound(f"no provider named {name!r} in the config")
            provider = self._providers[name] = build_provider(
                config, max_response_bytes=self.config.server.max_response_bytes)
        return provider

    def publish(self, event: FlowEvent, flow: Flow) -> None:
        self.bus.publish(event, flow)

    async def aclose(self) -> None:
        """Close every provider's connection pool, even when one of them fails to close."""
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001 - shutting down: log it and close the rest
                log.exception("closing provider %r failed", provider.name)
