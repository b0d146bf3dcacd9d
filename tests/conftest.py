"""Shared fixtures: fake upstreams on 127.0.0.1 and the real proxy in a background thread."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccm_tui.config import Config, parse_config
from ccm_tui.events import EventBus
from ccm_tui.proxy.server import ProxyServer
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import run_asgi

FIXTURES = Path(__file__).parent / "fixtures"
CANARY_KEY = "sk-canary-7d1f0c-DO-NOT-LEAK"


@pytest.fixture(autouse=True, scope="session")
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Logs, exports and history of every test (and of the processes it starts) stay out of the real home."""
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    with run_asgi(fake.app) as url:
        fake.base_url = url  # type: ignore[attr-defined]
        yield fake


def anthropic_config(base_url: str, extra: str = "", key: str = CANARY_KEY) -> Config:
    text = f"""
[providers.anthropic]
type = "anthropic"
base_url = "{base_url}"
api_key = "$TEST_ANTHROPIC_KEY"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]

[router]
default = "anthropic,claude-sonnet-4-5"
background = "anthropic,claude-haiku-4-5"
{extra}
"""
    return parse_config(text, env={"TEST_ANTHROPIC_KEY": key})


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., ProxyServer]]:
    """Factory: start a ProxyServer on a free loopback port; all are stopped after the test."""
    started: list[ProxyServer] = []

    def start(config: Config, bus: EventBus | None = None) -> ProxyServer:
        server = ProxyServer(config, bus or EventBus(), host="127.0.0.1", port=0)
        server.start_in_thread()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def proxy(fake_anthropic: FakeAnthropic, start_proxy) -> ProxyServer:  # type: ignore[no-untyped-def]
    return start_proxy(anthropic_config(fake_anthropic.base_url))
