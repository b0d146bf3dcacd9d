"""TUI fixtures: a commented config file on disk, the real proxy on its thread, and an app factory."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ccm_tui.config import load_config
from ccm_tui.events import EventBus
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.tui.app import CcmApp
from tests.conftest import CANARY_KEY

FAKE_CLAUDE = Path(__file__).resolve().parents[1] / "fakes" / "fake_claude.py"
SIZE = (160, 45)

CONFIG = """\
# my ccm-tui config (this comment must survive route switches)
[providers.anthropic]
type = "anthropic"
base_url = "{base_url}"
api_key = "$TEST_ANTHROPIC_KEY"   # the canary
models = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]

[router]
default = "anthropic,claude-sonnet-4-5"   # main conversation
background = "anthropic,claude-haiku-4-5" # titles and summaries
"""


@pytest.fixture
def config_file(tmp_path: Path, fake_anthropic, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", CANARY_KEY)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(base_url=fake_anthropic.base_url))
    return path


@pytest.fixture
def server(config_file: Path) -> Iterator[ProxyServer]:
    proxy = ProxyServer(load_config(config_file), EventBus(), host="127.0.0.1", port=0)
    proxy.start_in_thread()
    yield proxy
    proxy.stop()


@pytest.fixture
def make_app(server: ProxyServer) -> Callable[..., CcmApp]:
    def make(claude_args: list[str] | None = None, **kwargs) -> CcmApp:  # type: ignore[no-untyped-def]
        argv = None if claude_args is None else [sys.executable, str(FAKE_CLAUDE), *claude_args]
        env = {"PATH": "/usr/bin:/bin", **server.child_env()}
        kwargs.setdefault("exit_grace", 0)
        return CcmApp(server, argv, env, **kwargs)

    return make


async def wait_for(predicate: Callable[[], object], pilot, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll (bounded) while letting the app run."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def send(server: ProxyServer, model: str = "claude-sonnet-4-5", *, stream: bool = True,
               text: str = "hello", system: str | None = None) -> httpx.Response:
    body: dict = {"model": model, "max_tokens": 64, "stream": stream,
                  "messages": [{"role": "user", "content": text}],
                  "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]}
    if system:
        body["system"] = system
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(server.base_url + "/v1/messages", json=body,
                                     headers={"x-api-key": server.token.reveal(), "anthropic-version": "2023-06-01"})
        await response.aread()
        return response


__all__ = ["asyncio", "send", "wait_for", "SIZE", "FAKE_CLAUDE"]
