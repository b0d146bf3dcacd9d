"""The real claude keeps its own credential (``auth = "client"``): its key reaches the Anthropic
fake unchanged, the proxy still wants its own header, and another route never sees the key."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ccm_tui.claude_env import claude_env
from ccm_tui.config import parse_config
from ccm_tui.secrets import PROXY_TOKEN_HEADER
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openai_server import Reply as OpenAIReply
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e

CLAUDE_KEY = "sk-ant-api03-e2e-claude-own-key-4b7d"
CLAUDE_LOGIN = "sk-ant-oat01-e2e-subscription-login-90ce"
OTHER_KEY = "sk-other-e2e-route-key"
CONFIG = """
[providers.claude]
type = "anthropic"
base_url = "{anthropic}"
auth = "client"
models = ["claude-sonnet-4-5"]

[providers.other]
type = "openai"
base_url = "{openai}/v1"
api_key = "$OTHER_KEY"
models = ["fake-gpt"]

[router]
default = "claude,claude-sonnet-4-5"
"""


def openai_answer(_request) -> OpenAIReply:  # type: ignore[no-untyped-def]
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "fake-gpt",
             "choices": [{"index": 0, "delta": {"content": "pong from the other route"}, "finish_reason": "stop"}]}
    usage = {"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5}}
    return OpenAIReply.sse([chunk, usage])


def run(binary: str, env: dict[str, str], home: Path, *args: str) -> dict:
    done = subprocess.run([binary, "-p", "say pong", "--output-format", "json", *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.stdout.strip(), f"claude printed nothing (exit {done.returncode}); stderr: {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_claude_keeps_its_own_key(claude, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake = FakeAnthropic()
    fake.default = Reply(text="pong with claude's own key")
    with run_asgi(fake.app) as anthropic_url, FakeOpenAI(responder=openai_answer) as other:
        text = CONFIG.format(anthropic=anthropic_url, openai=other.base_url)
        handle = serve(text, env={"OTHER_KEY": OTHER_KEY})
        home = tmp_path / "home"
        home.mkdir()
        # what `ccm-tui` gives its claude (commands/tui.py), with the key the user set for claude
        proxy_env = {"ANTHROPIC_BASE_URL": handle.base_url, "ANTHROPIC_CUSTOM_HEADERS": f"x-ccm-token: {handle.token}",
                     "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        users = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "ANTHROPIC_API_KEY": CLAUDE_KEY,
                 "OTHER_KEY": OTHER_KEY, "CLAUDE_CODE_MAX_RETRIES": "1", "IS_SANDBOX": "1"}
        env = claude_env(parse_config(text, env=users), proxy_env, embedded=False, environ=users)
        assert env["ANTHROPIC_API_KEY"] == CLAUDE_KEY and "ANTHROPIC_AUTH_TOKEN" not in env and "OTHER_KEY" not in env

        result = run(claude, env, home)
        assert result["is_error"] is False, result
        assert result["result"] == "pong with claude's own key"
        main = [r for r in fake.requests if r["body"].get("tools")]
        assert main, "claude's main request reached the Anthropic fake"
        assert {r["headers"].get("x-api-key") for r in fake.requests} == {CLAUDE_KEY}
        assert all(PROXY_TOKEN_HEADER not in r["headers"] and handle.token not in json.dumps(r["headers"])
                   for r in fake.requests)
        assert "anthropic-beta" in main[0]["headers"]

        # another route (picked as /model does) never carries claude's key
        result = run(claude, env, home, "--model", "claude-ccm/other,fake-gpt")
        assert result["is_error"] is False, result
        assert result["result"] == "pong from the other route"
        assert other.requests
        for request in other.requests:
            assert request.headers.get("authorization") == f"Bearer {OTHER_KEY}"
            assert CLAUDE_KEY not in json.dumps(request.headers) and handle.token not in json.dumps(request.headers)

        # without the local header the proxy refuses, whatever claude's own credential says
        sent = len(fake.requests)
        body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        for headers in ({"x-api-key": CLAUDE_KEY}, {"x-api-key": handle.token},
                        {"authorization": f"Bearer {handle.token}"}):
            answer = httpx.post(handle.base_url + "/v1/messages", json=body, headers=headers, timeout=20)
            assert answer.status_code == 401 and answer.json()["error"]["type"] == "authentication_error"
        assert len(fake.requests) == sent
        lines = handle.read_lines(2)
    assert not [line for line in lines if CLAUDE_KEY in line]
    log = (tmp_path / "ccm.log").read_text() if (tmp_path / "ccm.log").exists() else ""
    assert CLAUDE_KEY not in log


def test_claude_keeps_its_subscription_login(claude, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A claude signed in (its login in ~/.claude/.credentials.json) sends it through the proxy as it is."""
    fake = FakeAnthropic()
    fake.default = Reply(text="pong with claude's login")
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    login = {"accessToken": CLAUDE_LOGIN, "refreshToken": "sk-ant-ort01-e2e-refresh", "subscriptionType": "max",
             "expiresAt": int(time.time() * 1000) + 3_600_000, "scopes": ["user:inference", "user:profile"]}
    (home / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": login}))
    with run_asgi(fake.app) as anthropic_url, FakeOpenAI(responder=openai_answer) as other:
        text = CONFIG.format(anthropic=anthropic_url, openai=other.base_url)
        handle = serve(text, env={"OTHER_KEY": OTHER_KEY})
        proxy_env = {"ANTHROPIC_BASE_URL": handle.base_url, "ANTHROPIC_CUSTOM_HEADERS": f"x-ccm-token: {handle.token}",
                     "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        users = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "OTHER_KEY": OTHER_KEY,
                 "CLAUDE_CODE_MAX_RETRIES": "1", "IS_SANDBOX": "1"}
        env = claude_env(parse_config(text, env=users), proxy_env, embedded=False, environ=users)
        result = run(claude, env, home)
        assert result["is_error"] is False, result
        assert result["result"] == "pong with claude's login"
        assert fake.requests
        for request in fake.requests:
            assert request["headers"].get("authorization") == f"Bearer {CLAUDE_LOGIN}"
            assert "oauth-2025-04-20" in request["headers"].get("anthropic-beta", "")
            assert PROXY_TOKEN_HEADER not in request["headers"]
        result = run(claude, env, home, "--model", "claude-ccm/other,fake-gpt")
        assert result["result"] == "pong from the other route"
        assert other.requests and not [r for r in other.requests if CLAUDE_LOGIN in json.dumps(r.headers)]
