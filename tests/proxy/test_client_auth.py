"""``auth = "client"``: claude's own credential reaches that one provider, unchanged, and nothing else.

The official SDK plays claude: its own key (or login token) in x-api-key / Authorization, the proxy
token in ``x-ccm-token``. A second provider on another route, and a fallback to another provider,
must never see that credential; no surface (flow record, history, errors) may show it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from ccm_tui.config import Config, parse_config
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.export import curl_command, flow_record
from ccm_tui.flow import Flow
from ccm_tui.history.store import record_of
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.secrets import PROXY_TOKEN_HEADER
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openai_server import Reply as OpenAIReply
from tests.fakes.server import run_asgi

CLAUDE_KEY = "sk-ant-claude-own-3f9c1e-DO-NOT-FORWARD"
CLAUDE_LOGIN = "sk-ant-oat01-claude-login-77ab20"
KEYED = "sk-ant-keyed-provider-5d1b"
OPENAI = "sk-openai-other-route-9e0c"
BETA = "oauth-2025-04-20,claude-code-20250219"
CONFIG = """
[providers.claude]
type = "anthropic"
base_url = "{claude_url}"
auth = "client"
models = ["claude-sonnet-4-5"]

[providers.keyed]
type = "anthropic"
base_url = "{keyed_url}"
api_key = "$KEYED_KEY"
models = ["claude-haiku-4-5"]

[providers.other]
type = "openai"
base_url = "{openai_url}/v1"
api_key = "$OTHER_KEY"
models = ["gpt-4o-mini"]

[router]
default = "claude,claude-sonnet-4-5"
background = "other,gpt-4o-mini"
fallback = ["keyed,claude-haiku-4-5"]
"""


class Upstreams:
    def __init__(self, claude: FakeAnthropic, keyed: FakeAnthropic, other: FakeOpenAI, config: Config) -> None:
        self.claude, self.keyed, self.other, self.config = claude, keyed, other, config


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    claude, keyed = FakeAnthropic(), FakeAnthropic()
    with run_asgi(claude.app) as claude_url, run_asgi(keyed.app) as keyed_url, FakeOpenAI() as other:
        text = CONFIG.format(claude_url=claude_url, keyed_url=keyed_url, openai_url=other.base_url)
        config = parse_config(text, env={"KEYED_KEY": KEYED, "OTHER_KEY": OPENAI})
        yield Upstreams(claude, keyed, other, config)


@pytest.fixture
def served(upstreams: Upstreams, start_proxy) -> tuple[ProxyServer, list[Flow]]:  # type: ignore[no-untyped-def]
    bus = EventBus()
    done: list[Flow] = []
    bus.subscribe(lambda event, flow: done.append(flow) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    return start_proxy(upstreams.config, bus), done


def client(server: ProxyServer, credential: dict[str, str], *, local: bool = True) -> anthropic.Anthropic:
    """What claude sends with auth = "client": its own credential header as claude sends it (an API key
    as x-api-key, a login as a Bearer), plus our header from ANTHROPIC_CUSTOM_HEADERS."""
    headers: dict[str, Any] = {"authorization": anthropic.omit, "anthropic-beta": BETA, **credential}
    if local:
        headers[PROXY_TOKEN_HEADER] = server.child_env()["ANTHROPIC_CUSTOM_HEADERS"].partition(": ")[2]
    return anthropic.Anthropic(base_url=server.base_url, api_key=None, auth_token=None, max_retries=0, timeout=20,
                               default_headers=headers)


def ask(sdk: anthropic.Anthropic, *, background: bool = False, stream: bool = False) -> Any:
    model = "claude-3-5-haiku-20241022" if background else "claude-sonnet-4-5"
    kwargs: dict[str, Any] = dict(model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    if stream:
        with sdk.messages.stream(**kwargs) as events:
            return events.get_final_message()
    return sdk.messages.create(**kwargs)


def leaks(value: Any, *secrets: str) -> list[str]:
    text = json.dumps(value, default=str)
    return [s for s in secrets if s in text]


def test_the_child_env_has_no_proxy_token_in_claudes_credential_slots(served) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    env = server.child_env()
    assert "ANTHROPIC_AUTH_TOKEN" not in env and "ANTHROPIC_API_KEY" not in env
    assert env["ANTHROPIC_CUSTOM_HEADERS"] == f"{PROXY_TOKEN_HEADER}: {server.token.reveal()}"


@pytest.mark.parametrize("stream", [False, True])
def test_claudes_own_key_reaches_the_client_auth_provider_unchanged(served, upstreams: Upstreams,  # type: ignore[no-untyped-def]
                                                                    stream: bool) -> None:
    server, flows = served
    answer = ask(client(server, {"x-api-key": CLAUDE_KEY}), stream=stream)
    assert answer.content[0].text == "Hello from the fake upstream."
    (seen,) = upstreams.claude.requests
    assert seen["headers"]["x-api-key"] == CLAUDE_KEY
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["anthropic-beta"] == BETA
    assert PROXY_TOKEN_HEADER not in seen["headers"]  # the proxy token stays here
    assert not upstreams.keyed.requests and not upstreams.other.requests
    (flow,) = flows
    stored = {k.lower(): v for k, v in flow.request_headers.items()}
    assert stored["x-api-key"] == "***" and stored[PROXY_TOKEN_HEADER] == "***"
    assert not leaks(flow_record(flow, server.redactor), CLAUDE_KEY, server.token.reveal())
    assert not leaks(record_of(flow, "test", server.redactor, bodies=True), CLAUDE_KEY, server.token.reveal())
    curl = curl_command(flow, server.base_url, server.redactor, client_auth=True)
    assert '"x-ccm-token: $CCM_TOKEN"' in curl and '"x-api-key: $ANTHROPIC_API_KEY"' in curl
    assert not leaks(curl, CLAUDE_KEY, server.token.reveal())


def test_claudes_login_token_is_forwarded_as_its_bearer(served, upstreams: Upstreams) -> None:  # type: ignore[no-untyped-def]
    server, flows = served
    ask(client(server, {"authorization": f"Bearer {CLAUDE_LOGIN}"}))
    (seen,) = upstreams.claude.requests
    assert seen["headers"]["authorization"] == f"Bearer {CLAUDE_LOGIN}" and "x-api-key" not in seen["headers"]
    assert server.redactor.text(f"echo {CLAUDE_LOGIN}") == "echo ***"  # masked everywhere from now on
    assert not leaks(flow_record(flows[0], server.redactor), CLAUDE_LOGIN)


def test_without_the_local_header_the_proxy_refuses(served, upstreams: Upstreams) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    token = server.token.reveal()
    for headers in ({"x-api-key": CLAUDE_KEY}, {"x-api-key": token}, {"authorization": f"Bearer {token}"},
                    {PROXY_TOKEN_HEADER: "wrong", "x-api-key": CLAUDE_KEY}):
        sdk = client(server, headers, local=False)
        with pytest.raises(anthropic.AuthenticationError, match="x-ccm-token"):
            ask(sdk)
    for path in ("/ccm/status", "/v1/models"):
        assert httpx.get(server.base_url + path, headers={"authorization": f"Bearer {token}"}).status_code == 401
        assert httpx.get(server.base_url + path, headers={PROXY_TOKEN_HEADER: token}).status_code == 200
    assert not upstreams.claude.requests


def test_no_credential_from_claude_is_a_401_that_says_so(served, upstreams: Upstreams) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    sdk = client(server, {})
    with pytest.raises(anthropic.AuthenticationError, match="own login"):
        ask(sdk)
    assert not upstreams.claude.requests and not upstreams.keyed.requests


def test_another_route_never_sees_claudes_key(served, upstreams: Upstreams) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    upstreams.other.script(OpenAIReply.json({
        "id": "c1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1}}))
    answer = ask(client(server, {"x-api-key": CLAUDE_KEY}), background=True)
    assert answer.content[0].text == "ok"
    (seen,) = upstreams.other.requests
    assert seen.headers.get("authorization") == f"Bearer {OPENAI}"
    assert not leaks(seen.headers, CLAUDE_KEY, server.token.reveal())
    assert not upstreams.claude.requests


def test_a_fallback_to_another_provider_uses_its_own_key(served, upstreams: Upstreams) -> None:  # type: ignore[no-untyped-def]
    server, flows = served
    upstreams.claude.default = Reply(status=529)  # overloaded, however often it is tried: the chain moves on
    answer = ask(client(server, {"x-api-key": CLAUDE_KEY}))
    assert answer.content[0].text == "Hello from the fake upstream."
    assert upstreams.claude.requests and {r["headers"]["x-api-key"] for r in upstreams.claude.requests} == {CLAUDE_KEY}
    (seen,) = upstreams.keyed.requests
    assert seen["headers"]["x-api-key"] == KEYED
    assert not leaks(seen["headers"], CLAUDE_KEY)
    assert flows[0].target == "keyed,claude-haiku-4-5"


def test_an_upstream_echoing_claudes_key_is_redacted(served, upstreams: Upstreams) -> None:  # type: ignore[no-untyped-def]
    server, flows = served
    echo = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {CLAUDE_KEY}"}}
    upstreams.claude.script = [Reply(status=401, error_body=echo)]
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ask(client(server, {"x-api-key": CLAUDE_KEY}))
    assert CLAUDE_KEY not in str(caught.value) and "invalid x-api-key ***" in str(caught.value)
    (flow,) = flows
    assert flow.error is not None and CLAUDE_KEY not in flow.error
    assert not leaks(flow_record(flow, server.redactor), CLAUDE_KEY)
    assert not leaks(record_of(flow, "test", server.redactor, bodies=True), CLAUDE_KEY)
    assert not upstreams.keyed.requests  # an authentication error is not a reason to fall back


def test_count_tokens_takes_the_local_header(served) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    sdk = client(server, {"x-api-key": CLAUDE_KEY})
    count = sdk.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens > 0


def test_the_statusline_reaches_the_proxy_with_the_local_header(served) -> None:  # type: ignore[no-untyped-def]
    from tests.proxy.test_status import statusline

    server, _ = served
    env = {k: v for k, v in server.child_env().items() if k in ("CCM_STATUS_URL", "ANTHROPIC_CUSTOM_HEADERS")}
    line = statusline({**env, "ANTHROPIC_API_KEY": CLAUDE_KEY}, json.dumps({"session_id": "s-1"}))
    assert line.startswith("⇢ default → claude,claude-sonnet-4-5"), line
