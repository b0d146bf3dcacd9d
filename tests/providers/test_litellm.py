"""LiteLLM hybrid upstream through the real proxy: what arrives at a fake LiteLLM, what the SDK sees."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from ccm_tui.config import parse_config
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Flow
from ccm_tui.proxy.server import ProxyServer
from ccm_tui.tokens import count_request_tokens
from tests.fakes.litellm_server import CountReply, FakeLiteLLM, Reply
from tests.fakes.server import run_asgi

FIXTURES = Path(__file__).parents[1] / "fixtures" / "claude-code"
MASTER_KEY = "sk-litellm-master-canary-91c2"


def litellm_config(base_url: str, *, key: bool = True):  # type: ignore[no-untyped-def]
    text = f"""
[providers.litellm]
type = "litellm"
base_url = "{base_url}"
{'api_key = "$LITELLM_MASTER_KEY"' if key else ""}
models = ["team-sonnet", "team-haiku"]

[router]
default = "litellm,team-sonnet"
background = "litellm,team-haiku"
"""
    return parse_config(text, env={"LITELLM_MASTER_KEY": MASTER_KEY})


@pytest.fixture
def fake_litellm() -> Iterator[FakeLiteLLM]:
    fake = FakeLiteLLM(master_key=MASTER_KEY)
    with run_asgi(fake.app) as url:
        fake.base_url = url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def flows() -> list[Flow]:
    return []


@pytest.fixture
def proxy(fake_litellm: FakeLiteLLM, flows: list[Flow]) -> Iterator[ProxyServer]:
    bus = EventBus()
    bus.subscribe(lambda event, flow: flows.append(flow) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    server = ProxyServer(litellm_config(fake_litellm.base_url), bus, host="127.0.0.1", port=0)
    server.start_in_thread()
    yield server
    server.stop()


def sdk(server: ProxyServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)


def assert_litellm_auth(headers: dict[str, str], server: ProxyServer) -> None:
    assert headers["authorization"] == f"Bearer {MASTER_KEY}"
    assert headers["x-api-key"] == MASTER_KEY
    assert server.token.reveal() not in json.dumps(headers), "the proxy's own token never goes upstream"


REQUEST = dict(
    model="claude-sonnet-4-5", max_tokens=256, stop_sequences=["END"],
    system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    messages=[{"role": "user", "content": "list files"}],
    tools=[{"name": "Bash", "description": "run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                             "required": ["command"], "additionalProperties": False}}],
    tool_choice={"type": "auto"}, metadata={"user_id": "u-1"},
)
EXTRA = {"temperature": 0.3, "top_k": 5, "future_field": {"kept": True}}  # not SDK parameters: extra_body


def test_non_stream_forwards_body_unchanged_but_the_routed_model(proxy, fake_litellm, flows) -> None:
    message = sdk(proxy).messages.create(**REQUEST, extra_body=EXTRA,
                                         extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert message.content[0].text == "Hello from the fake upstream."
    assert message.model == "claude-sonnet-4-5", "the client sees the model it asked for"
    sent = fake_litellm.requests[-1]
    assert sent["path"].split("?")[0] == "/v1/messages"
    assert_litellm_auth(sent["headers"], proxy)
    assert sent["headers"]["anthropic-beta"] == "context-1m-2025-08-07"
    assert sent["headers"]["anthropic-version"], "the client's API version goes along"
    assert sent["body"] == {**REQUEST, **EXTRA, "model": "team-sonnet"}
    flow = flows[-1]
    assert flow.target == "litellm,team-sonnet" and flow.upstream_url == fake_litellm.base_url + "/v1/messages"
    assert MASTER_KEY not in repr(flow.upstream_headers) + repr(flow.summary())


def test_stream_matches_non_stream_and_forwards_stream_flag(proxy, fake_litellm) -> None:
    fake_litellm.default = Reply(text="running it now", tool_use={"id": "toolu_9", "name": "Bash",
                                                                  "input": {"command": "ls"}})
    client = sdk(proxy)
    with client.messages.stream(**REQUEST, extra_body=EXTRA) as stream:
        texts = list(stream.text_stream)
        streamed = stream.get_final_message()
    sent = fake_litellm.requests[-1]
    assert sent["body"] == {**REQUEST, **EXTRA, "model": "team-sonnet", "stream": True}
    assert_litellm_auth(sent["headers"], proxy)
    plain = client.messages.create(**REQUEST)
    assert "".join(texts) == "running it now"
    assert streamed.model_dump(exclude={"id"}) == plain.model_dump(exclude={"id"})
    assert streamed.stop_reason == "tool_use" and streamed.content[1].input == {"command": "ls"}
    assert streamed.usage.input_tokens == 12 and streamed.usage.output_tokens == 7


@pytest.mark.parametrize(("fixture", "model"), [("print_mode_main.json", "team-sonnet"),
                                                ("session_title.json", "team-haiku")])
def test_real_claude_code_bodies_arrive_unchanged(proxy, fake_litellm, fixture: str, model: str) -> None:
    recorded = json.loads((FIXTURES / fixture).read_text())
    body = recorded["body"]
    headers = {k: v for k, v in recorded["headers"].items() if k.lower() != "content-type"}
    with httpx.stream("POST", proxy.base_url + "/v1/messages?beta=true", json=body, timeout=30,
                      headers={**headers, "authorization": f"Bearer {proxy.token.reveal()}"}) as response:
        assert response.status_code == 200, response.read()
        raw = b"".join(response.iter_raw())
    assert b"event: message_stop" in raw
    sent = fake_litellm.requests[-1]
    assert sent["body"] == {**body, "model": model}
    assert sent["headers"]["anthropic-beta"] == recorded["headers"]["anthropic-beta"]
    assert_litellm_auth(sent["headers"], proxy)


def test_count_tokens_is_forwarded(proxy, fake_litellm, flows) -> None:
    count = sdk(proxy).messages.count_tokens(
        model="claude-sonnet-4-5", system=REQUEST["system"], messages=REQUEST["messages"], tools=REQUEST["tools"])
    assert count.input_tokens == 4242
    sent = fake_litellm.count_requests[-1]
    assert sent["path"].split("?")[0] == "/v1/messages/count_tokens"
    assert_litellm_auth(sent["headers"], proxy)
    assert sent["body"] == {"model": "team-sonnet", "system": REQUEST["system"],
                            "messages": REQUEST["messages"], "tools": REQUEST["tools"]}
    assert not fake_litellm.requests, "counting never sends a message"
    assert flows[-1].kind == "count_tokens" and flows[-1].usage.input_tokens == 4242


@pytest.mark.parametrize(
    ("reply", "why"),
    [(CountReply(status=500), "(ProxyError: "), (CountReply(status=404, body={"detail": "Not Found"}), "(NotFound: "),
     (CountReply(body={"tokens": 7}), "(no usable input_tokens in its answer)"),
     (CountReply(body={"input_tokens": -1}), "(no usable input_tokens in its answer)")],
    ids=["500", "404-old-litellm", "wrong-shape", "negative"],
)
def test_count_tokens_falls_back_to_a_local_count(proxy, fake_litellm, flows, reply: CountReply, why: str) -> None:
    fake_litellm.count_reply = reply
    body = {"model": "claude-sonnet-4-5", "system": REQUEST["system"], "messages": REQUEST["messages"],
            "tools": REQUEST["tools"]}
    count = sdk(proxy).messages.count_tokens(**copy.deepcopy(body))
    assert len(fake_litellm.count_requests) == 1, "LiteLLM was asked first"
    assert count.input_tokens == count_request_tokens({**body, "model": "team-sonnet"}, model="team-sonnet")
    assert count.input_tokens > 20
    assert any(why in note and "counted locally" in note for note in flows[-1].notes), flows[-1].notes


def test_count_tokens_falls_back_when_litellm_is_down(start_proxy) -> None:
    server = start_proxy(litellm_config("http://127.0.0.1:9"))
    count = sdk(server).messages.count_tokens(model="claude-sonnet-4-5",
                                              messages=[{"role": "user", "content": "hello there"}])
    assert count.input_tokens > 0


def test_without_a_key_no_auth_headers_are_sent(fake_litellm, start_proxy) -> None:
    fake_litellm.master_key = None  # a LiteLLM proxy without master_key
    server = start_proxy(litellm_config(fake_litellm.base_url, key=False))
    sdk(server).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    sent = fake_litellm.requests[-1]["headers"]
    assert "authorization" not in sent and "x-api-key" not in sent
    assert server.token.reveal() not in json.dumps(sent)


def test_wrong_master_key_is_an_authentication_error_without_the_key(fake_litellm, start_proxy) -> None:
    fake_litellm.master_key = "sk-the-right-one"
    server = start_proxy(litellm_config(fake_litellm.base_url))
    with pytest.raises(anthropic.AuthenticationError) as info:
        sdk(server).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert "Invalid proxy server token" in str(info.value)
    assert MASTER_KEY not in str(info.value)
    assert fake_litellm.rejected[-1]["authorization"] == f"Bearer {MASTER_KEY}"


def test_litellm_errors_keep_anthropic_shape(proxy, fake_litellm) -> None:
    fake_litellm.script = [Reply(status=429, error_body={"error": {
        "message": "litellm.RateLimitError: team budget exceeded", "type": "rate_limit_error", "code": "429"}},
        headers={"retry-after": "0"})] * 3
    response = httpx.post(proxy.base_url + "/v1/messages", headers={"x-api-key": proxy.token.reveal()},
                          json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 429
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    assert "team budget exceeded" in error["error"]["message"]
