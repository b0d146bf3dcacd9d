"""The proxy's session: pin commands, and what a reload says it changed."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ccm_tui.config import ConfigError
from ccm_tui.events import EventBus, SessionUpdate
from ccm_tui.proxy.session import Session, changes
from tests.conftest import anthropic_config


def test_pin_publishes_and_an_unknown_provider_changes_nothing() -> None:
    bus = EventBus()
    updates: list[SessionUpdate] = []
    bus.subscribe_session(updates.append)
    session = Session(anthropic_config("http://127.0.0.1:9"), bus)
    assert asyncio.run(session.pin("anthropic,claude-haiku-4-5")) == "pinned to anthropic,claude-haiku-4-5"
    assert session.pinned == "anthropic,claude-haiku-4-5" and updates[-1].pinned == session.pinned
    with pytest.raises(ConfigError, match="unknown provider 'nope'"):
        asyncio.run(session.pin("nope,model"))
    with pytest.raises(ConfigError, match="provider,model"):
        asyncio.run(session.pin("no-comma"))
    assert session.pinned == "anthropic,claude-haiku-4-5" and len(updates) == 1
    asyncio.run(session.pin(None))
    assert session.pinned is None and updates[-1].message == "unpinned: routes apply again"


def test_changes_name_what_waits_for_the_next_start() -> None:
    old = anthropic_config("http://127.0.0.1:9")
    moved = dataclasses.replace(old, server=dataclasses.replace(old.server, port=4000, max_body_bytes=4096))
    assert changes(old, moved) == "server (server.port: at the next start)"
    history = dataclasses.replace(old, history=dataclasses.replace(old.history, enabled=False), budget_usd=1.0)
    assert changes(old, history) == "budget, history ([history]: at the next start)"
    assert changes(old, old.with_route("think", "anthropic,claude-haiku-4-5")) == "router"
