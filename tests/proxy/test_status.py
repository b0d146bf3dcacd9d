"""GET /ccm/status (the statusline's source), /v1/models for claude's picker, and `ccm-tui statusline`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from ccm_tui.events import FlowEvent
from ccm_tui.flow import Decision, Flow
from ccm_tui.proxy.status import SessionSummaries
from tests.conftest import CANARY_KEY, anthropic_config

REPO = Path(__file__).resolve().parents[2]
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]}


def status(proxy, session: str = "s-1", token: str | None = None) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.get(proxy.base_url + "/ccm/status", params={"session_id": session},
                     headers={"authorization": f"Bearer {proxy.token.reveal() if token is None else token}"})


def turn(proxy, session: str = "s-1", **extra) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(proxy.base_url + "/v1/messages", json={**BODY, **extra},
                      headers={"x-api-key": proxy.token.reveal(), "x-claude-code-session-id": session})


def test_status_needs_the_token_and_reveals_no_secret(proxy) -> None:
    assert httpx.get(proxy.base_url + "/ccm/status").status_code == 401
    assert status(proxy, token="wrong").status_code == 401
    before = status(proxy)
    assert before.status_code == 200
    assert before.json() == {"session_id": "s-1", "pinned": None, "default_target": "anthropic,claude-sonnet-4-5",
                             "default_window": 200_000, "seen": False}
    assert turn(proxy).status_code == 200
    text = status(proxy).text
    assert CANARY_KEY not in text and proxy.token.reveal() not in text


def test_status_follows_the_session_after_the_first_answer(proxy, fake_anthropic) -> None:
    assert turn(proxy).status_code == 200
    assert turn(proxy, "other").status_code == 200
    body = status(proxy).json()
    assert body["seen"] and body["route"] == "default" and body["target"] == "anthropic,claude-sonnet-4-5"
    assert body["requests"] == 1 and body["context_tokens"] == 12 + 7 and body["context_window"] == 200_000
    # A title request (background route) does not replace what answered the conversation.
    assert turn(proxy, model="claude-haiku-4-5", tools=[]).status_code == 200
    body = status(proxy).json()
    assert body["target"] == "anthropic,claude-sonnet-4-5" and body["requests"] == 2
    assert status(proxy, "never-seen").json()["seen"] is False


def test_summaries_are_bounded() -> None:
    summaries = SessionSummaries(limit=3)
    for n in range(10):
        flow = Flow("POST", "/v1/messages", {})
        flow.session_id = f"s{n}"
        flow.decision = Decision("default", "p", "m", "why")
        summaries.on_event(FlowEvent.FINISHED, flow)
    assert summaries.get("s0") is None and summaries.get("s9") is not None
    assert len(summaries._sessions) == 3


def test_models_in_anthropic_shape_with_ids_claude_keeps(proxy, fake_anthropic) -> None:
    models = httpx.get(proxy.base_url + "/v1/models", headers={"x-api-key": proxy.token.reveal()}).json()
    assert models["has_more"] is False
    ids = [m["id"] for m in models["data"]]
    assert ids == ["claude-ccm/anthropic,claude-sonnet-4-5", "claude-ccm/anthropic,claude-haiku-4-5"]
    assert models["first_id"] == ids[0] and models["last_id"] == ids[-1]
    first = models["data"][0]
    assert first["type"] == "model" and first["display_name"] == "anthropic,claude-sonnet-4-5" and first["created_at"]
    # Picking one routes to it, and the upstream gets the real model name.
    assert turn(proxy, model="claude-ccm/anthropic,claude-haiku-4-5").status_code == 200
    assert fake_anthropic.requests[-1]["body"]["model"] == "claude-haiku-4-5"
    assert status(proxy).json()["target"] == "anthropic,claude-haiku-4-5"


def statusline(env: dict[str, str], stdin: str) -> str:
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "NO_COLOR": "1", **env}
    done = subprocess.run([sys.executable, "-m", "ccm_tui", "statusline"], input=stdin, env=full, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_statusline_command_shows_the_routed_model(proxy) -> None:
    env = {k: v for k, v in proxy.child_env().items() if k in ("CCM_STATUS_URL", "ANTHROPIC_AUTH_TOKEN")}
    claude_json = json.dumps({"session_id": "s-1", "model": {"id": "claude-opus-5-5", "display_name": "Opus 5.5"}})
    assert statusline(env, claude_json) == "⇢ default → anthropic,claude-sonnet-4-5 · ctx –/200k\n"
    assert turn(proxy).status_code == 200
    line = statusline(env, claude_json)
    assert line == "⇢ default → anthropic,claude-sonnet-4-5 · $0.00 · cache 0% · ctx 19/200k\n"
    # serve users: ANTHROPIC_BASE_URL is enough.
    env = {"ANTHROPIC_BASE_URL": proxy.base_url, "ANTHROPIC_AUTH_TOKEN": proxy.token.reveal()}
    assert statusline(env, claude_json) == line


def test_statusline_falls_back_when_the_proxy_is_gone(start_proxy, fake_anthropic) -> None:
    server = start_proxy(anthropic_config(fake_anthropic.base_url))
    env = {"CCM_STATUS_URL": server.child_env()["CCM_STATUS_URL"], "ANTHROPIC_AUTH_TOKEN": "t"}
    server.stop()
    out = statusline(env, json.dumps({"session_id": "x", "model": {"display_name": "Opus 5.5"}}))
    assert out == "⇢ ccm proxy not reachable · Opus 5.5\n"
    assert statusline({}, "not json") == "⇢ ccm proxy not reachable\n"


def test_status_window_is_1m_when_claude_asks_for_the_1m_beta(proxy, fake_anthropic) -> None:
    response = httpx.post(proxy.base_url + "/v1/messages", json=BODY, headers={
        "x-api-key": proxy.token.reveal(), "x-claude-code-session-id": "big",
        "anthropic-beta": "claude-code-20250219,context-1m-2025-08-07"})
    assert response.status_code == 200
    assert status(proxy, "big").json()["context_window"] == 1_000_000
