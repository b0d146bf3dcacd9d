"""The claude child (embedded pane and --no-embed) never holds a provider key; it gets default signals.

A real child (the fake claude) dumps the environment and signal masks it inherited.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccm_tui.claude_env import claude_env
from ccm_tui.config import Config, embedded_default, parse_config
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.tui.app import CcmApp

from .conftest import FAKE_CLAUDE, SIZE, wait_for

OPENROUTER = "sk-or-v1-0123456789abcdef"
GEMINI = "AIzaSy-literal-in-the-config"
ANTHROPIC = "sk-ant-api03-upstream"
CUSTOM = "tok-custom-header-secret"
CONFIG = """
[providers.anthropic]
type = "anthropic"
base_url = "{url}"
api_key = "$UPSTREAM_ANTHROPIC"
models = ["claude-sonnet-4-5"]

[providers.openrouter]
type = "openai"
preset = "openrouter"
base_url = "{url}/v1"
api_key = "${{OPENROUTER_API_KEY}}"
models = ["z-ai/glm-4.6"]
headers = {{ Authorization = "Bearer $CUSTOM_TOKEN", X-Title = "ccm-tui" }}

[providers.gemini]
type = "gemini"
base_url = "{url}"
api_key = "{gemini}"
models = ["gemini-2.5-flash"]

[router]
default = "anthropic,claude-sonnet-4-5"
"""
#: What the user's shell holds: keys under their usual names, copies under other names, and the rest.
ENVIRON = {
    "UPSTREAM_ANTHROPIC": ANTHROPIC, "ANTHROPIC_API_KEY": "sk-ant-claude-own", "OPENROUTER_API_KEY": OPENROUTER,
    "GEMINI_API_KEY": GEMINI, "CUSTOM_TOKEN": CUSTOM, "MY_COPY_OF_THE_KEY": OPENROUTER, "TOKEN_ONLY": CUSTOM,
    "USER_TOOL_SETTING": "keep-me", "TITLE_LIKE_VALUE": "ccm-tui", "TMUX": "/tmp/tmux-1/default,1,0",
}
KEYS = (ANTHROPIC, "sk-ant-claude-own", OPENROUTER, GEMINI, CUSTOM)
GONE = ("UPSTREAM_ANTHROPIC", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "GEMINI_API_KEY", "CUSTOM_TOKEN",
        "MY_COPY_OF_THE_KEY", "TOKEN_ONLY")


def make_config(url: str = "http://127.0.0.1:9") -> Config:
    return parse_config(CONFIG.format(url=url, gemini=GEMINI), env=ENVIRON)


def assert_no_keys(env: dict[str, str], proxy_env: dict[str, str]) -> None:
    assert not [name for name in GONE if name in env]
    assert not [name for name, value in env.items() if any(key in value for key in KEYS)]
    assert {k: env.get(k) for k in proxy_env} == proxy_env  # the proxy's URL and token
    assert env["USER_TOOL_SETTING"] == "keep-me" and env["TITLE_LIKE_VALUE"] == "ccm-tui"


@pytest.mark.parametrize("embedded", [True, False])
def test_claude_env_withholds_every_key(embedded: bool) -> None:
    proxy_env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1234", "ANTHROPIC_AUTH_TOKEN": "ccm-proxy-token"}
    env = claude_env(make_config(), proxy_env, embedded=embedded, environ={**ENVIRON, "PATH": "/usr/bin:/bin"})
    assert_no_keys(env, proxy_env)
    assert env["PATH"] == "/usr/bin:/bin"
    assert ("TMUX" in env) is not embedded


def test_embedded_default_withholds_anthropic_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC)
    monkeypatch.setenv("SAME_VALUE_ELSEWHERE", ANTHROPIC)
    env = claude_env(embedded_default(), {"ANTHROPIC_AUTH_TOKEN": "t"}, embedded=True)
    assert "ANTHROPIC_API_KEY" not in env and "SAME_VALUE_ELSEWHERE" not in env and env["ANTHROPIC_AUTH_TOKEN"] == "t"


@pytest.fixture
def nohup_like() -> Iterator[None]:
    """This process ignores SIGHUP and SIGINT, as under ``nohup`` or as a background job."""
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGHUP, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("embed", [True, False], ids=["pane", "no-embed"])
async def test_the_real_child_holds_no_key(embed: bool, fake_anthropic, start_proxy, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch, nohup_like: None) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    config = make_config(fake_anthropic.base_url)
    server: ProxyServer = start_proxy(config)
    dump = tmp_path / "env.json"
    # what `ccm-tui` does (commands/tui.py): one environment for both ways of running claude
    env = claude_env(config, server.child_env(), embedded=embed)
    argv = [sys.executable, str(FAKE_CLAUDE), "--dump-env", str(dump), "--requests", "1"]
    app = CcmApp(server, argv, env, embed=embed, keep_open=True, exit_grace=0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.claude_exit_code is not None, pilot, timeout=20)
        await pilot.press("f10")
    assert app.claude_exit_code == 0
    got = json.loads(dump.read_text())
    assert_no_keys(got["env"], server.child_env())
    assert got["env"]["ANTHROPIC_BASE_URL"] == server.base_url
    assert len(fake_anthropic.requests) == 1  # the token worked: the child reached the upstream
    for sig in (signal.SIGHUP, signal.SIGINT):  # Python itself ignores SIGPIPE: checked with sh in tests/terminal
        assert not got["SigIgn"] & (1 << (sig - 1)), f"{signal.Signals(sig).name} ignored in claude"
        assert not got["SigBlk"] & (1 << (sig - 1)), f"{signal.Signals(sig).name} blocked in claude"


@pytest.mark.parametrize(("term", "colorterm"), [("xterm-256color", None), ("xterm-256color", "truecolor"),
                                                 ("xterm", None), ("screen-256color", "24bit")])
def test_depth_told_to_an_early_claude_is_what_textual_renders_with(monkeypatch: pytest.MonkeyPatch,
                                                                    term: str, colorterm: str | None) -> None:
    from textual.app import App

    from ccm_tui.terminal.emulator import outer_color_system

    monkeypatch.setenv("TERM", term)
    monkeypatch.delenv("TEXTUAL_COLOR_SYSTEM", raising=False)
    if colorterm is None:
        monkeypatch.delenv("COLORTERM", raising=False)
    else:
        monkeypatch.setenv("COLORTERM", colorterm)
    assert outer_color_system() == App().console.color_system
