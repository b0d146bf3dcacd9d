"""A canary key must not appear anywhere the user, a log or an export could see it; private files are 0600."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from ccm_tui.cli import main as cli_main
from ccm_tui.config import load_config
from ccm_tui.config_file import write_route
from ccm_tui.export import curl_command, flow_record, write_jsonl
from tests.reliability.conftest import (
    BODY,
    CANARY_KEY,
    auth,
    error,
    message_json,
    reply_json,
    stream,
    stream_events,
)

REPO = Path(__file__).resolve().parents[2]
ECHO = {"x-echo-key": CANARY_KEY, "www-authenticate": f"Bearer realm={CANARY_KEY}"}


def scenarios(hostile) -> list:  # type: ignore[no-untyped-def]
    """Upstream answers that quote the key back every way we could think of, then normal traffic."""
    return [
        error(401, "authentication_error", f"invalid x-api-key: {CANARY_KEY}", headers=ECHO),
        reply_json(500, f"<html>debug: api_key={CANARY_KEY}</html>".encode(), headers=ECHO,
                   content_type="text/html"),
        reply_json(500, f"<html>debug: api_key={CANARY_KEY}</html>".encode(), headers=ECHO,
                   content_type="text/html"),
        reply_json(200, f"not json {CANARY_KEY}".encode(), headers=ECHO),
        reply_json(200, f"not json {CANARY_KEY}".encode(), headers=ECHO),
        message_json("fine"),
    ]


def drive(base_url: str, token: str, hostile) -> list[str]:  # type: ignore[no-untyped-def]
    """Send a mix of requests; return every byte the client saw (bodies and headers) as text."""
    hostile.script = scenarios(hostile)
    seen: list[str] = []
    headers = {"x-api-key": token}
    with httpx.Client(timeout=30) as client:
        for body in (BODY, BODY, BODY, BODY):
            response = client.post(base_url + "/v1/messages", json=body, headers=headers)
            seen.append(response.text + json.dumps(dict(response.headers)))
        hostile.script = [stream([*stream_events()[:3], f"event: error\ndata: {{\"type\":\"error\",\"error\":"
                                  f"{{\"type\":\"api_error\",\"message\":\"key {CANARY_KEY}\"}}}}\n\n".encode()])]
        with client.stream("POST", base_url + "/v1/messages", json={**BODY, "stream": True},
                           headers=headers) as response:
            seen.append(response.read().decode() + json.dumps(dict(response.headers)))
        response = client.post(base_url + "/v1/messages/count_tokens", json={"model": "m", "messages": BODY["messages"]},
                               headers=headers)
        seen.append(response.text)
    return seen


def test_canary_never_reaches_client_flows_exports_or_logs(hostile, start_hostile_proxy, flows, tmp_path,
                                                           caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="ccm_tui")
    caplog.set_level(logging.INFO)  # the levels ccm_tui.logs configures for the log file
    for noisy in ("httpx", "httpcore", "hpack"):
        caplog.set_level(logging.WARNING, logger=noisy)
    server = start_hostile_proxy()
    seen = drive(server.base_url, server.token.reveal(), hostile)
    assert hostile.requests[0]["headers"]["x-api-key"] == CANARY_KEY, "the key does go upstream"
    assert any("invalid x-api-key: ***" in s for s in seen), "the echo was there, redacted"
    for text in seen:
        assert CANARY_KEY not in text
    assert len(flows) >= 6
    for flow in flows:
        everything = repr(flow) + json.dumps(flow.summary(), default=str)
        assert CANARY_KEY not in everything, f"flow #{flow.id} holds the key"
    redactor = server.redactor
    for flow in flows:
        assert CANARY_KEY not in json.dumps(flow_record(flow, redactor), default=str)
        assert CANARY_KEY not in curl_command(flow, server.base_url, redactor)
        assert server.token.reveal() not in curl_command(flow, server.base_url, redactor)
    out = tmp_path / "export.jsonl"
    assert write_jsonl(flows, out, redactor) == len(flows)
    assert CANARY_KEY not in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert CANARY_KEY not in caplog.text


def _start_serve(tmp_path: Path, base_url: str, host: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(f'[providers.main]\ntype = "anthropic"\nbase_url = "{base_url}"\napi_key = "$CANARY"\n'
                      'models = ["m-main"]\n[router]\ndefault = "main,m-main"\n')
    env = {**os.environ, "CANARY": CANARY_KEY, "CCM_LOG_FILE": str(tmp_path / "ccm.log")}
    process = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config), "--port", "0",
                                "--host", host], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=REPO)
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"ANTHROPIC_BASE_URL=(\S+) ANTHROPIC_AUTH_TOKEN=(\S+)", first)
    if not match:
        process.kill()
        raise AssertionError(f"serve printed {first!r}: {process.stderr.read()}")  # type: ignore[union-attr]
    return process, match.group(1), match.group(2)


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    process.terminate()
    try:
        out, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return out, err


def test_canary_never_in_serve_output_or_log_file(hostile, tmp_path) -> None:
    process, base_url, token = _start_serve(tmp_path, hostile.base_url)
    try:
        seen = drive(base_url, token, hostile)
        time.sleep(0.3)
    finally:
        out, err = _stop(process)
    assert len([line for line in out.splitlines() if " #" in line]) >= 6, out
    log = (tmp_path / "ccm.log").read_text()
    for where, text in (("stdout", out), ("stderr", err), ("log file", log), ("responses", "".join(seen))):
        assert CANARY_KEY not in text, f"the key leaked into {where}"
    assert "***" in out, "serve's error lines show the redacted echo"


def test_non_loopback_bind_warns_and_still_requires_the_token(hostile, tmp_path) -> None:
    # 127.0.0.2 is not the default loopback address ccm-tui knows, yet stays on this machine (test sandbox)
    process, base_url, token = _start_serve(tmp_path, hostile.base_url, host="127.0.0.2")
    try:
        hostile.default = message_json("ok")
        assert base_url.startswith("http://127.0.0.2:")
        assert httpx.post(base_url + "/v1/messages", json=BODY).status_code == 401
        assert httpx.post(base_url + "/v1/messages", json=BODY, headers={"x-api-key": "guess"}).status_code == 401
        assert httpx.post(base_url + "/v1/messages", json=BODY, headers={"x-api-key": token}).status_code == 200
    finally:
        _, err = _stop(process)
    assert "warning: listening on 127.0.0.2, not loopback; the token is still required" in err


def test_loopback_by_default_and_token_required(start_proxy, hostile) -> None:
    from tests.reliability.conftest import two_provider_config

    config = two_provider_config(hostile.base_url)
    assert config.server.host == "127.0.0.1"
    from ccm_tui.proxy.server import ProxyServer

    server = ProxyServer(config, port=0)
    try:
        assert server.host == "127.0.0.1" and server.is_loopback
    finally:
        server._sock.close()
    running = start_proxy(config)
    hostile.default = message_json("ok")
    assert httpx.post(running.base_url + "/v1/messages", json=BODY).status_code == 401
    assert httpx.post(running.base_url + "/v1/messages", json=BODY, headers=auth(running)).status_code == 200


def test_config_files_written_by_ccm_tui_are_0600(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(os, "umask", os.umask)  # restore whatever we change
    old = os.umask(0o022)
    try:
        path = tmp_path / "cfg" / "config.toml"
        assert cli_main(["config", "init", "--config", str(path)]) == 0
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.write_text(f'[providers.a]\ntype = "anthropic"\nbase_url = "http://127.0.0.1:9"\napi_key = "{CANARY_KEY}"\n'
                        'models = ["x", "y"]\n[router]\ndefault = "a,x"\n')
        path.chmod(0o640)
        config = load_config(path)
        write_route(config, "background", "a,y")  # the TUI's route switch writes the file back
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, "a write-back keeps the user's mode"
        assert 'background = "a,y"' in path.read_text()
        ccr = tmp_path / "ccr.json"
        ccr.write_text(json.dumps({"Providers": [{"name": "or", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
                                                  "api_key": CANARY_KEY, "models": ["m"]}],
                                   "Router": {"default": "or,m"}}))
        dest = tmp_path / "imported.toml"
        cli_main(["config", "import", str(ccr), "--output", str(dest)])
        if dest.exists():
            assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("where", ["repr", "str", "format"])
def test_secret_objects_never_print(where) -> None:
    from ccm_tui.secrets import Secret

    secret = Secret(CANARY_KEY)
    text = {"repr": repr(secret), "str": str(secret), "format": f"{secret} {[secret]} {secret!r}"}[where]
    assert CANARY_KEY not in text


def test_anthropic_sdk_error_text_is_redacted(hostile, start_hostile_proxy) -> None:
    server = start_hostile_proxy()
    hostile.default = error(403, "permission_error", f"key {CANARY_KEY} lacks access")
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        client.messages.create(**BODY)
    assert CANARY_KEY not in str(info.value) and "key *** lacks access" in str(info.value)


def test_a_password_in_a_base_url_stays_out_of_flows_and_exports(start_proxy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ccm_tui.config import parse_config
    from ccm_tui.events import EventBus, FlowEvent
    from ccm_tui.secrets import Redactor
    from tests.fakes.openai_server import FakeOpenAI, Reply

    answer = {"id": "c", "object": "chat.completion", "model": "g", "usage": {"prompt_tokens": 1, "completion_tokens": 1},
              "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}
    with FakeOpenAI(lambda _: Reply(body=answer)) as fake:
        host = fake.base_url.removeprefix("http://")
        config = parse_config(f'[providers.o]\ntype = "openai"\nbase_url = "http://team:url-PASSWORD-77@{host}/v1"\n'
                              'models = ["g"]\n[router]\ndefault = "o,g"\n', env={})
        bus, done = EventBus(), []
        bus.subscribe(lambda event, flow: done.append(flow) if event is FlowEvent.FINISHED else None)
        proxy = start_proxy(config, bus)
        response = httpx.post(proxy.base_url + "/v1/messages", json=BODY, headers=auth(proxy), timeout=30)
        assert response.status_code == 200, response.text
        assert fake.requests[-1].headers["authorization"].startswith("Basic "), "the credentials still go upstream"
    out = tmp_path / "export.jsonl"
    write_jsonl(done, out, Redactor([]))
    assert "url-PASSWORD-77" not in repr(done[-1].summary()) + (done[-1].upstream_url or "") + out.read_text()


def test_a_key_added_by_a_reload_is_redacted_too(hostile, start_proxy, tmp_path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    """The config file gains a provider key while the proxy runs: from the reload on, that key is masked
    wherever an upstream quotes it (it was not: the redactor's update raised, and a subscriber's
    failure is only logged)."""
    from ccm_tui.events import EventBus, FlowEvent

    new_key = "sk-rotated-4e2a9b-DO-NOT-LEAK"
    monkeypatch.setenv("KEY", CANARY_KEY)
    monkeypatch.setenv("NEW_KEY", new_key)
    path = tmp_path / "config.toml"
    template = (f'[providers.main]\ntype = "anthropic"\nbase_url = "{hostile.base_url}"\napi_key = "$%s"\n'
                'models = ["m-main"]\n[router]\ndefault = "main,m-main"\n')
    path.write_text(template % "KEY")
    bus, failed = EventBus(), []
    bus.subscribe(lambda event, flow: failed.append(flow) if event is FlowEvent.FAILED else None)
    server = start_proxy(load_config(path), bus)
    path.write_text(template % "NEW_KEY")
    assert server.command(lambda session: session.reload("test")).result(10)
    hostile.default = error(401, "authentication_error", f"invalid x-api-key: {new_key}", headers={"x-echo": new_key})
    response = httpx.post(server.base_url + "/v1/messages", json=BODY, headers=auth(server), timeout=30)
    assert hostile.requests[-1]["headers"]["x-api-key"] == new_key, "the reload took effect"
    assert response.status_code == 401 and "invalid x-api-key: ***" in response.text
    assert new_key not in response.text + repr(failed[-1]) + json.dumps(failed[-1].summary(), default=str)
    assert server.redactor.text(f"history: {new_key}") == "history: ***", "records and logs mask it too"
    assert "session subscriber" not in caplog.text
