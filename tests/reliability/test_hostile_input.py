"""Bad requests: each gets a typed 4xx in Anthropic's error shape, nothing goes upstream, the proxy keeps serving."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import anthropic_config
from tests.reliability.conftest import BODY

USER = [{"role": "user", "content": "hi"}]


def body(**changes: object) -> bytes:
    data = {**BODY, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not _DROP}).encode()


def msgs(*messages: object) -> bytes:
    return body(messages=list(messages))


def block(*blocks: object) -> bytes:
    return msgs({"role": "user", "content": list(blocks)})


_DROP = object()
NaN_ = float("nan")  # json.dumps writes it as the bare NaN token
TOOL_TURN = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}]}

# (id, path, raw body, expected status); every one must be answered locally.
CORPUS: list[tuple[str, str, bytes, int]] = [
    ("empty", "", b"", 400),
    ("whitespace", "", b"  \n ", 400),
    ("truncated-open", "", b"{", 400),
    ("truncated-mid", "", body()[:-7], 400),
    ("trailing-garbage", "", body() + b" xyz", 400),
    ("null", "", b"null", 400),
    ("array", "", b"[]", 400),
    ("string", "", b'"hello"', 400),
    ("number", "", b"42", 400),
    ("bool", "", b"true", 400),
    ("invalid-utf8", "", b"\xff\xfe\xfd", 400),
    ("invalid-utf8-in-string", "", b'{"model": "\xc3\x28", "max_tokens": 5, "messages": []}', 400),
    ("utf16", "", body().decode().encode("utf-16"), 400),
    ("nested-arrays", "", b"[" * 30_000 + b"]" * 30_000, 400),
    ("nested-objects", "", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400),
    ("nested-content", "", b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":'
     + b"[" * 25_000 + b"]" * 25_000 + b"}]}", 400),
    ("nan-max-tokens", "", body().replace(b'"max_tokens": 20', b'"max_tokens": NaN'), 400),
    ("infinity-max-tokens", "", body().replace(b'"max_tokens": 20', b'"max_tokens": Infinity'), 400),
    ("model-missing", "", body(model=_DROP), 400),
    ("model-int", "", body(model=7), 400),
    ("model-empty", "", body(model=""), 400),
    ("model-null", "", body(model=None), 400),
    ("model-list", "", body(model=["claude"]), 400),
    ("max-tokens-missing", "", body(max_tokens=_DROP), 400),
    ("max-tokens-zero", "", body(max_tokens=0), 400),
    ("max-tokens-negative", "", body(max_tokens=-1), 400),
    ("max-tokens-string", "", body(max_tokens="10"), 400),
    ("max-tokens-float", "", body(max_tokens=1.5), 400),
    ("max-tokens-bool", "", body(max_tokens=True), 400),
    ("max-tokens-absurd", "", body(max_tokens=10**12), 400),
    ("max-tokens-huge-int", "", body().replace(b'"max_tokens": 20', b'"max_tokens": ' + b"9" * 5000), 400),
    ("stream-string", "", body(stream="yes"), 400),
    ("messages-missing", "", body(messages=_DROP), 400),
    ("messages-object", "", body(messages={"role": "user"}), 400),
    ("messages-string", "", body(messages="hi"), 400),
    ("messages-empty", "", body(messages=[]), 400),
    ("message-null", "", msgs(None), 400),
    ("message-int", "", msgs(42), 400),
    ("role-missing", "", msgs({"content": "hi"}), 400),
    ("role-unknown", "", msgs({"role": "bot", "content": "hi"}), 400),
    ("role-int", "", msgs({"role": 1, "content": "hi"}), 400),
    ("content-missing", "", msgs({"role": "user"}), 400),
    ("content-int", "", msgs({"role": "user", "content": 42}), 400),
    ("content-null", "", msgs({"role": "user", "content": None}), 400),
    ("content-object", "", msgs({"role": "user", "content": {"type": "text", "text": "x"}}), 400),
    ("block-int", "", block(42), 400),
    ("block-no-type", "", block({"text": "x"}), 400),
    ("block-type-int", "", block({"type": 5}), 400),
    ("block-unknown-type", "", block({"type": "hologram", "data": "x"}), 400),
    ("text-missing", "", block({"type": "text"}), 400),
    ("text-int", "", block({"type": "text", "text": 5}), 400),
    ("tool-result-orphan", "", block({"type": "tool_result", "tool_use_id": "toolu_x", "content": "r"}), 400),
    ("tool-result-no-id", "", msgs(*USER, TOOL_TURN, {"role": "user", "content": [{"type": "tool_result"}]}), 400),
    ("tool-result-id-int", "", msgs(*USER, TOOL_TURN, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": 1}]}), 400),
    ("tool-result-before-use", "", msgs({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1"}]}, TOOL_TURN), 400),
    ("tool-use-no-id", "", msgs(*USER, {"role": "assistant", "content": [{"type": "tool_use", "name": "B"}]}), 400),
    ("tool-use-name-int", "", msgs(*USER, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": 3}]}), 400),
    ("system-int", "", body(system=5), 400),
    ("system-blocks-bad", "", body(system=[{"text": "no type"}]), 400),
    ("tools-string", "", body(tools="Bash"), 400),
    ("tools-item-int", "", body(tools=[42]), 400),
    ("tools-no-name", "", body(tools=[{"description": "d", "input_schema": {}}]), 400),
    ("count-no-model", "/count_tokens", json.dumps({"messages": USER}).encode(), 400),
    ("count-no-messages", "/count_tokens", json.dumps({"model": "m"}).encode(), 400),
    ("count-garbage", "/count_tokens", b"\x00\x01\x02", 400),
    ("count-orphan-result", "/count_tokens", json.dumps({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "nope"}]}]}).encode(), 400),
    # Each of these was a 500 (retryable: the SDK sent one of them 11 times) or went upstream unchecked.
    ("nan-temperature", "", body()[:-1] + b', "temperature": NaN}', 400),
    ("infinity-top-p", "", body()[:-1] + b', "top_p": -Infinity}', 400),
    ("overflow-float", "", body()[:-1] + b', "temperature": 1e400}', 400),
    ("nan-deep", "", block({"type": "tool_use", "id": "t", "name": "B", "input": {"x": [NaN_]}}), 400),
    ("count-nan", "/count_tokens", json.dumps({"model": "m", "messages": USER}).encode()[:-1] + b', "top_k": NaN}',
     400),
    ("model-newline", "", body(model="claude-sonnet-4-5\n"), 400),
    ("model-cr-forged-line", "", body(model="claude-sonnet-4-5\r\n12:00:00 #1 default fake 200"), 400),
    ("model-nul", "", body(model="claude\x00"), 400),
    ("model-escape", "", body(model="claude\x1b]0;pwned\x07"), 400),
    ("model-c1", "", body(model="claude\x9b31m"), 400),
    ("model-target-newline", "", body(model="anthropic,claude-haiku-4-5\n"), 400),
    ("count-model-newline", "/count_tokens", json.dumps({"model": "m\n", "messages": USER}).encode(), 400),
    ("budget-string", "", body(thinking={"type": "enabled", "budget_tokens": "1024"}), 400),
    ("budget-float", "", body(thinking={"type": "enabled", "budget_tokens": 1024.5}), 400),
    ("budget-missing", "", body(thinking={"type": "enabled"}), 400),
    ("thinking-string", "", body(thinking="on"), 400),
    ("thinking-type-unknown", "", body(thinking={"type": "maximal"}), 400),
    ("temperature-string", "", body(temperature="hot"), 400),
    ("temperature-bool", "", body(temperature=True), 400),
    ("top-k-float", "", body(top_k=1.5), 400),
    ("stop-sequences-string", "", body(stop_sequences="END"), 400),
    ("stop-sequences-ints", "", body(stop_sequences=[1, 2]), 400),
    ("metadata-string", "", body(metadata="me"), 400),
    ("metadata-user-int", "", body(metadata={"user_id": 5}), 400),
    ("tool-choice-unknown", "", body(tool_choice={"type": "teleport"}), 400),
    ("tool-choice-string", "", body(tool_choice="auto"), 400),
    ("tool-choice-tool-no-name", "", body(tool_choice={"type": "tool"}), 400),
    ("tool-choice-parallel-string", "", body(tool_choice={"type": "auto", "disable_parallel_tool_use": "yes"}), 400),
    ("count-tool-choice-unknown", "/count_tokens", json.dumps({"model": "m", "messages": USER,
                                                                "tool_choice": {"type": "x"}}).encode(), 400),
    ("image-no-source", "", block({"type": "image"}), 400),
    ("image-source-string", "", block({"type": "image", "source": "cat.png"}), 400),
    ("image-no-data", "", block({"type": "image", "source": {"type": "base64", "media_type": "image/png"}}), 400),
    ("image-data-int", "", block({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                              "data": 5}}), 400),
    ("image-source-type-unknown", "", block({"type": "image", "source": {"type": "ftp", "url": "x"}}), 400),
    ("image-media-type-unknown", "", block({"type": "image", "source": {"type": "base64", "media_type": "image/bmp",
                                                                        "data": "AAAA"}}), 400),
    ("image-url-missing", "", block({"type": "image", "source": {"type": "url"}}), 400),
    ("document-no-data", "", block({"type": "document", "source": {"type": "base64",
                                                                   "media_type": "application/pdf"}}), 400),
    ("document-source-unknown", "", block({"type": "document", "source": {"type": "fax", "data": "x"}}), 400),
    ("tool-use-input-string", "", msgs(*USER, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "B", "input": "ls"}]}), 400),
    ("tool-result-content-int", "", msgs(*USER, TOOL_TURN, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": 5}]}), 400),
    ("tool-result-inner-image-no-data", "", msgs(*USER, TOOL_TURN, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "image", "source": {
            "type": "base64", "media_type": "image/png"}}]}]}), 400),
    ("tool-result-is-error-string", "", msgs(*USER, TOOL_TURN, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": "no"}]}), 400),
    ("thinking-block-int", "", msgs(*USER, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": 5, "signature": "s"}]}), 400),
    ("redacted-thinking-no-data", "", msgs(*USER, {"role": "assistant", "content": [
        {"type": "redacted_thinking"}]}), 400),
    ("cache-control-unknown", "", block({"type": "text", "text": "x", "cache_control": {"type": "forever"}}), 400),
    ("cache-control-ttl-unknown", "", block({"type": "text", "text": "x", "cache_control": {"type": "ephemeral",
                                                                                           "ttl": "1y"}}), 400),
    ("system-block-no-text", "", body(system=[{"type": "text"}]), 400),
    ("tool-description-int", "", body(tools=[{"name": "B", "description": 5, "input_schema": {}}]), 400),
    ("tool-schema-string", "", body(tools=[{"name": "B", "input_schema": "object"}]), 400),
]


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 50
    assert len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.fixture(scope="module")
def shared_proxy():  # type: ignore[no-untyped-def]
    """One proxy (over the shared fake upstream) for the whole corpus: it must survive all of it."""
    from ccm_tui.proxy.server import ProxyServer
    from tests.fakes.anthropic_server import FakeAnthropic
    from tests.fakes.server import run_asgi

    fake = FakeAnthropic()
    with run_asgi(fake.app) as url:
        server = ProxyServer(anthropic_config(url, extra="[server]\nmax_body_bytes = 65536"), host="127.0.0.1",
                             port=0)
        server.start_in_thread()
        try:
            yield server, fake
        finally:
            server.stop()


def _check_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert set(error) == {"type", "error"} and error["type"] == "error"
    assert isinstance(error["error"]["type"], str) and isinstance(error["error"]["message"], str)
    assert error["error"]["message"], "the message says what is wrong"
    return error


@pytest.mark.parametrize(("case", "path", "raw", "status"), CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_request_is_typed_4xx_and_proxy_survives(shared_proxy, case, path, raw, status) -> None:
    server, fake = shared_proxy
    before = len(fake.requests)
    response = httpx.post(server.base_url + "/v1/messages" + path, content=raw, timeout=30,
                          headers={"x-api-key": server.token.reveal(), "content-type": "application/json"})
    error = _check_error(response, status)
    expected_type = "request_too_large" if status == 413 else "invalid_request_error"
    assert error["error"]["type"] == expected_type
    assert len(fake.requests) == before, "nothing invalid goes upstream"
    assert httpx.get(server.base_url + "/health", timeout=5).json()["status"] == "ok"


def test_body_over_the_limit_is_413(shared_proxy) -> None:
    server, fake = shared_proxy
    big = body(messages=[{"role": "user", "content": "x" * 70_000}])
    headers = {"x-api-key": server.token.reveal(), "content-type": "application/json"}
    response = httpx.post(server.base_url + "/v1/messages", content=big, headers=headers, timeout=30)
    error = _check_error(response, 413)
    assert error["error"]["type"] == "request_too_large" and "65536" in error["error"]["message"]

    def chunked():  # no content-length: the limit must hold while reading
        for _ in range(20):
            yield b"x" * 8192

    response = httpx.post(server.base_url + "/v1/messages", content=chunked(), headers=headers, timeout=30)
    assert _check_error(response, 413)["error"]["type"] == "request_too_large"
    just_under = body(messages=[{"role": "user", "content": "x" * 60_000}])
    assert httpx.post(server.base_url + "/v1/messages", content=just_under, headers=headers,
                      timeout=30).status_code == 200
    assert httpx.get(server.base_url + "/health", timeout=5).status_code == 200


def test_garbage_http_does_not_kill_the_server(shared_proxy) -> None:
    server, _ = shared_proxy
    port = server.port
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
                 b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"half",  # then hang up
                 b"NOT-HTTP AT ALL\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            try:
                sock.recv(1024)
            except OSError:
                pass
    assert httpx.get(server.base_url + "/health", timeout=5).status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
blocks = st.fixed_dictionaries({"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking",
                                                         "document", "bogus"])},
                                optional={"text": json_values, "id": json_values, "name": json_values,
                                          "input": json_values, "tool_use_id": json_values, "source": json_values,
                                          "content": json_values})
messages = st.lists(st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["user", "assistant", "system", "tool"]) | json_values,
    "content": st.text(max_size=20) | st.lists(blocks | json_values, max_size=3) | json_values}), max_size=3)
request_bodies = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from(["claude-sonnet-4-5", "claude-haiku-4-5", "anthropic,claude-haiku-4-5", ""]) | json_values,
    "max_tokens": st.integers(-5, 2_000_000) | json_values,
    "messages": messages | json_values,
    "system": st.text(max_size=30) | st.lists(blocks, max_size=2) | json_values,
    "tools": st.lists(st.fixed_dictionaries({"name": st.text(max_size=8) | json_values},
                                            optional={"input_schema": json_values, "type": json_values}),
                      max_size=2) | json_values,
    "stream": st.booleans() | json_values,
    "thinking": json_values, "tool_choice": json_values, "temperature": json_values, "metadata": json_values,
}) | json_values


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=request_bodies, count=st.booleans())
def test_fuzz_request_bodies_never_5xx(shared_proxy, data, count) -> None:
    server, _ = shared_proxy
    path = "/v1/messages/count_tokens" if count else "/v1/messages"
    with httpx.Client(timeout=30) as client:
        response = client.post(server.base_url + path, content=json.dumps(data).encode(),
                               headers={"x-api-key": server.token.reveal()})
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            _check_error(response, response.status_code)
        assert client.get(server.base_url + "/health").status_code == 200


@pytest.mark.parametrize(("case", "field"), [
    ("nan-temperature", "temperature:"), ("overflow-float", "temperature: 1e400"),
    ("nan-deep", "messages.0.content.0.input.x.0:"), ("count-nan", "top_k:"), ("model-newline", "model:"),
    ("budget-string", "thinking.budget_tokens:"), ("temperature-string", "temperature:"),
    ("tool-choice-unknown", "tool_choice.type:"), ("image-no-data", "messages.0.content.0.source.data:"),
    ("tool-result-inner-image-no-data", "messages.2.content.0.content.0.source.data:"),
])
def test_the_error_names_the_field(shared_proxy, case, field) -> None:
    server, _ = shared_proxy
    _, path, raw, _ = next(c for c in CORPUS if c[0] == case)
    response = httpx.post(server.base_url + "/v1/messages" + path, content=raw, timeout=30,
                          headers={"x-api-key": server.token.reveal()})
    assert _check_error(response, 400)["error"]["message"].startswith(field)


def test_real_claude_code_requests_pass_validation() -> None:
    """Whatever real Claude Code sends must never be refused by the stricter checks."""
    from ccm_tui.proxy.validate import parse_body, validate_request
    from tests.conftest import FIXTURES

    fixtures = sorted((FIXTURES / "claude-code").glob("*.json"))
    assert len(fixtures) >= 5
    for path in fixtures:
        body = json.loads(path.read_text())["body"]
        raw = json.dumps(body).encode()
        validate_request(parse_body(raw))
        validate_request({k: v for k, v in parse_body(raw).items() if k not in ("max_tokens", "stream")},
                         count_tokens=True)


def test_lone_surrogates_become_u_fffd_and_the_flow_says_so(shared_proxy) -> None:
    """Claude Code sends them (an emoji cut in tool output); a 400 would break that conversation for good."""
    from ccm_tui.events import FlowEvent

    server, fake = shared_proxy
    seen = []
    server.bus.subscribe(lambda event, flow: seen.append(flow) if event is FlowEvent.FINISHED else None)
    raw = body(messages=[{"role": "user", "content": "PLACEHOLDER"}]).replace(b"PLACEHOLDER", b"cut \\ud83d emoji \\udc00")
    for path in ("", "/count_tokens"):
        response = httpx.post(server.base_url + "/v1/messages" + path, content=raw, timeout=30,
                              headers={"x-api-key": server.token.reveal()})
        assert response.status_code == 200, response.text
    assert fake.requests[-1]["body"]["messages"][0]["content"] == "cut \ufffd emoji \ufffd"
    assert any("surrogate" in note for note in seen[-2].notes)
    pair = body(messages=[{"role": "user", "content": "PLACEHOLDER"}]).replace(b"PLACEHOLDER", b"\\ud83d\\ude00")
    response = httpx.post(server.base_url + "/v1/messages", content=pair, timeout=30,
                          headers={"x-api-key": server.token.reveal()})
    assert response.status_code == 200 and fake.requests[-1]["body"]["messages"][0]["content"] == "\U0001f600"
    for escaped, expected in [(b"\\ud83d\\ude00\\ude00", "\U0001f600\ufffd"), (b"\\ud83d\\ud83d\\ude00", "\ufffd\U0001f600")]:
        raw = body(messages=[{"role": "user", "content": "PLACEHOLDER"}]).replace(b"PLACEHOLDER", escaped)
        response = httpx.post(server.base_url + "/v1/messages", content=raw, timeout=30,
                              headers={"x-api-key": server.token.reveal()})
        assert response.status_code == 200 and fake.requests[-1]["body"]["messages"][0]["content"] == expected


def test_non_ascii_forwarded_headers_go_out_as_the_bytes_that_came_in(shared_proxy) -> None:
    server, fake = shared_proxy
    sent = {"user-agent": "claude-cli/2.1 (café)".encode(), "anthropic-beta": b"beta-\xff",
            "x-claude-code-session-id": "sessión-1".encode()}
    response = httpx.post(server.base_url + "/v1/messages", content=body(), timeout=30,
                          headers=[(b"x-api-key", server.token.reveal().encode()), *sent.items()])
    assert response.status_code == 200, response.text
    received = fake.requests[-1]["headers"]
    for name, raw in sent.items():
        assert received[name].encode("latin-1") == raw


def test_a_refused_model_name_is_not_kept_on_the_flow_raw(shared_proxy) -> None:
    """Panes and serve show the flow: a control-character model must not reach a terminal through it."""
    from ccm_tui.events import FlowEvent

    server, _ = shared_proxy
    failed = []
    server.bus.subscribe(lambda event, flow: failed.append(flow) if event is FlowEvent.FAILED else None)
    response = httpx.post(server.base_url + "/v1/messages", content=body(model="x\x1b]0;pwned\x07"), timeout=30,
                          headers={"x-api-key": server.token.reveal()})
    assert response.status_code == 400
    assert failed[-1].requested_model is None
