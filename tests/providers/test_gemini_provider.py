"""The Gemini provider over real HTTP: anthropic SDK → ccm-tui proxy → fake Gemini server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from ccm_tui.config import parse_config
from ccm_tui.flow import Flow
from ccm_tui.providers.gemini.response import SKIP_SIGNATURE
from tests.fakes.gemini_server import FakeGemini, GeminiReply, call_part, chunk, text_part, usage
from tests.fakes.server import run_asgi

from .test_gemini_response import SEARCH_META

KEY = "AIza-canary-gemini-DO-NOT-LEAK"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "claude-code"
SIGNATURE = "CiQBcsjafQ+thought/sig=="


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    with run_asgi(fake.app) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def proxy(fake_gemini: FakeGemini, start_proxy):  # type: ignore[no-untyped-def]
    text = f"""
[providers.gem]
type = "gemini"
base_url = "{fake_gemini.base_url}"
api_key = "$TEST_GEMINI_KEY"
models = ["gemini-2.5-pro"]

[router]
default = "gem,gemini-2.5-pro"
"""
    return start_proxy(parse_config(text, env={"TEST_GEMINI_KEY": KEY}))


def client(proxy) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0)


def tool_answer() -> GeminiReply:
    return GeminiReply(chunks=[
        chunk([text_part("Let me look", thought=True)]),
        chunk([text_part("Running "), text_part("it.")]),
        chunk([call_part("Bash", {"command": "echo hi"}, signature=SIGNATURE)], "STOP", usage(30, 8, 4)),
    ])


ASK = dict(model="claude-sonnet-4-5", max_tokens=2000, messages=[{"role": "user", "content": "run echo hi"}],
           tools=[{"name": "Bash", "description": "run", "input_schema": {
               "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
               "properties": {"command": {"type": "string"}}, "required": ["command"],
               "additionalProperties": False}}])


def test_stream_and_non_stream_agree_and_the_key_stays_out_of_the_url(proxy, fake_gemini) -> None:
    fake_gemini.handler = lambda _: tool_answer()
    c = client(proxy)
    with c.messages.stream(**ASK) as stream:
        texts = list(stream.text_stream)
        streamed = stream.get_final_message()
    plain = c.messages.create(**ASK)
    assert "".join(texts) == "Running it."
    assert [b.type for b in streamed.content] == ["thinking", "text", "tool_use"]
    # ids are random per answer; everything else must agree
    assert streamed.model_dump(exclude={"id", "content"}) == plain.model_dump(exclude={"id", "content"})
    for a, b in zip(streamed.content, plain.content, strict=True):
        assert a.model_dump(exclude={"id"}) == b.model_dump(exclude={"id"})
    assert streamed.model == "claude-sonnet-4-5" and streamed.stop_reason == "tool_use"
    assert streamed.usage.input_tokens == 30 and streamed.usage.output_tokens == 12
    assert streamed.content[2].input == {"command": "echo hi"}

    stream_req, plain_req = fake_gemini.requests
    assert stream_req.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent" and stream_req.query == "alt=sse"
    assert plain_req.path == "/v1beta/models/gemini-2.5-pro:generateContent" and plain_req.query == ""
    for sent in fake_gemini.requests:
        assert sent.headers["x-goog-api-key"] == KEY
        assert KEY not in sent.path + sent.query
        assert "authorization" not in sent.headers and "x-api-key" not in sent.headers
        params = sent.body["tools"][0]["functionDeclarations"][0]["parameters"]
        assert "additionalProperties" not in params and "$schema" not in params


def test_thought_signature_round_trips_through_claude_code_history(proxy, fake_gemini) -> None:
    fake_gemini.script = [tool_answer(), GeminiReply(chunks=[chunk([text_part("hi was printed")], "STOP")])]
    c = client(proxy)
    first = c.messages.create(**ASK)
    call = next(b for b in first.content if b.type == "tool_use")
    history = [*ASK["messages"], {"role": "assistant", "content": [b.model_dump() for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "hi\n"}]}]
    with c.messages.stream(**{**ASK, "messages": history}) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "hi was printed" and final.stop_reason == "end_turn"
    contents = fake_gemini.requests[1].body["contents"]
    model_turn, user_turn = contents[1], contents[2]
    fc = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert fc == {"functionCall": {"name": "Bash", "args": {"command": "echo hi"}}, "thoughtSignature": SIGNATURE}
    assert user_turn["parts"] == [{"functionResponse": {"name": "Bash", "response": {"result": "hi\n"}}}]


def test_parallel_results_out_of_order_reach_gemini_in_call_order_with_ids(proxy, fake_gemini) -> None:
    calls = [{"functionCall": {"id": "fc-slow", "name": "Bash", "args": {"command": "sleep 1 && echo slow-A"}},
              "thoughtSignature": SIGNATURE},
             {"functionCall": {"id": "fc-fast", "name": "Bash", "args": {"command": "echo fast-B"}}}]
    fake_gemini.script = [GeminiReply(chunks=[chunk(calls, "STOP", usage())]),
                          GeminiReply(chunks=[chunk([text_part("both ran")], "STOP")])]
    c = client(proxy)
    with c.messages.stream(**ASK) as stream:
        first = stream.get_final_message()
    slow, fast = first.content
    results = [{"type": "tool_result", "tool_use_id": fast.id, "content": "fast-B"},  # finished first
               {"type": "tool_result", "tool_use_id": slow.id, "content": "slow-A"}]
    history = [*ASK["messages"], {"role": "assistant", "content": [b.model_dump() for b in first.content]},
               {"role": "user", "content": results}]
    c.messages.create(**{**ASK, "messages": history})
    model_turn, user_turn = fake_gemini.requests[1].body["contents"][1:3]
    assert [p["functionCall"]["id"] for p in model_turn["parts"]] == ["fc-slow", "fc-fast"]
    assert user_turn["parts"] == [
        {"functionResponse": {"name": "Bash", "response": {"result": "slow-A"}, "id": "fc-slow"}},
        {"functionResponse": {"name": "Bash", "response": {"result": "fast-B"}, "id": "fc-fast"}}]


def test_history_from_another_provider_gets_the_sentinel(proxy, fake_gemini) -> None:
    history = [*ASK["messages"],
               {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01Anthropic", "name": "Bash",
                                                  "input": {"command": "ls"}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01Anthropic",
                                             "content": "file"}]}]
    client(proxy).messages.create(**{**ASK, "messages": history})
    fc = fake_gemini.requests[-1].body["contents"][1]["parts"][0]
    assert fc["thoughtSignature"] == SKIP_SIGNATURE


def test_rate_limit_keeps_retry_after(proxy, fake_gemini) -> None:
    error = {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED",
                       "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}}
    fake_gemini.script = [GeminiReply(status=429, error=error) for _ in range(3)]
    with pytest.raises(anthropic.RateLimitError) as caught:
        client(proxy).messages.create(**ASK)
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(("status", "google", "exc", "kind"), [
    (400, "INVALID_ARGUMENT", anthropic.BadRequestError, "invalid_request_error"),
    (403, "PERMISSION_DENIED", anthropic.PermissionDeniedError, "permission_error"),
    (404, "NOT_FOUND", anthropic.NotFoundError, "not_found_error"),
])
def test_errors_arrive_in_anthropic_shape(proxy, fake_gemini, status, google, exc, kind) -> None:  # type: ignore[no-untyped-def]
    fake_gemini.script = [GeminiReply(status=status, error={"error": {
        "code": status, "message": f"upstream said {google}", "status": google}})]
    with pytest.raises(exc) as caught:
        client(proxy).messages.create(**ASK)
    assert caught.value.body["error"]["type"] == kind
    assert f"upstream said {google}" in caught.value.body["error"]["message"]
    assert KEY not in json.dumps(caught.value.body)


def test_stream_cut_before_finish_reason_is_an_error_not_a_short_answer(proxy, fake_gemini) -> None:
    fake_gemini.script = [GeminiReply(chunks=[chunk([text_part("partial ")]), chunk([text_part("answer")])])]
    with pytest.raises(anthropic.APIError):
        with client(proxy).messages.stream(**ASK) as stream:
            for _ in stream:
                pass


def test_crlf_frames_and_split_bytes_parse(proxy, fake_gemini) -> None:
    frames = [f"data: {json.dumps(c)}\r\n\r\n".encode() for c in tool_answer().chunks]
    raw = b"".join(frames)
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]
    fake_gemini.script = [GeminiReply(raw_stream=pieces)]
    with client(proxy).messages.stream(**ASK) as stream:
        final = stream.get_final_message()
    assert final.content[2].input == {"command": "echo hi"}


def test_web_search_request_is_answered_with_grounded_search_blocks(proxy, fake_gemini) -> None:
    grounded = [chunk([text_part("Textual 3.0 is out. ")]),
                chunk([text_part("It adds themes.")], "STOP", usage(), groundingMetadata=SEARCH_META)]
    fake_gemini.handler = lambda _: GeminiReply(chunks=grounded)
    body = json.loads((FIXTURES / "websearch_server_tool.json").read_text())["body"]
    kwargs = {k: body[k] for k in ("model", "messages", "tools", "tool_choice", "thinking")} | {"max_tokens": 4000}
    c = client(proxy)
    with c.messages.stream(**kwargs) as stream:
        streamed = stream.get_final_message()
    plain = c.messages.create(**kwargs)
    for message in (streamed, plain):
        kinds = [b.type for b in message.content]
        assert kinds[:2] == ["server_tool_use", "web_search_tool_result"]
        assert [r.url for r in message.content[1].content] == ["https://a.example/1", "https://b.example/2"]
        assert message.content[2].citations[0].url == "https://a.example/1"
        assert message.usage.server_tool_use.web_search_requests == 1
    assert fake_gemini.requests[0].body["tools"] == [{"google_search": {}}]


def test_count_tokens_is_answered_locally(proxy, fake_gemini) -> None:
    count = client(proxy).messages.count_tokens(model="claude-sonnet-4-5", messages=ASK["messages"],
                                                tools=ASK["tools"])
    assert count.input_tokens > 5
    assert fake_gemini.requests == []


def test_real_claude_code_bodies_go_through(proxy, fake_gemini) -> None:
    for name in ("v2330_toolsearch_tool_reference", "tool_result_followup", "sonnet_thinking_budget"):
        body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())["body"]
        response = httpx.post(proxy.base_url + "/v1/messages?beta=true", json=body, timeout=30,
                              headers={"authorization": f"Bearer {proxy.token.reveal()}"})
        assert response.status_code == 200, response.text
        assert b"event: message_stop" in response.content
    sent = fake_gemini.requests[0].body
    assert sent["contents"][2]["parts"][0]["functionResponse"]["name"] == "ToolSearch"


def test_gemini3_text_signature_round_trips_through_claude_code_history(proxy, fake_gemini) -> None:
    fake_gemini.script = [GeminiReply(chunks=[chunk([text_part("The answer ")]), chunk([text_part("is 4.")]),
                                              chunk([text_part("", signature="TXTSIG==")], "STOP", usage())]),
                          GeminiReply()]
    c = client(proxy)
    with c.messages.stream(**ASK) as stream:
        first = stream.get_final_message()
    history = [*ASK["messages"], {"role": "assistant", "content": [b.model_dump() for b in first.content]},
               {"role": "user", "content": "thanks"}]
    c.messages.create(**{**ASK, "messages": history})
    model_turn = fake_gemini.requests[1].body["contents"][1]
    assert model_turn == {"role": "model", "parts": [{"text": "The answer is 4.", "thoughtSignature": "TXTSIG=="}]}


@pytest.mark.parametrize("model", ["../../../../evil/x?key=1", "gemini-2.5-pro/../../files", "gemini 2.5", "g#frag",
                                   "gemini-2.5-pro:countTokens", "models/../tunedModels/x", "..", "a%2F..%2Fb"])
def test_a_model_name_cannot_leave_its_url_path_segment(proxy, fake_gemini, model) -> None:
    """The model is chosen by the client (``provider,model``) and becomes a URL path segment."""
    response = httpx.post(proxy.base_url + "/v1/messages", headers={"x-api-key": proxy.token.reveal()}, timeout=30,
                          json={"model": f"gem,{model}", "max_tokens": 50,
                                "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("model:")
    assert fake_gemini.requests == []


def test_real_model_names_still_make_urls(proxy) -> None:
    gem = proxy.state.provider("gem", proxy.config, Flow("POST", "/v1/messages", {}))
    for model, path in [("gemini-2.5-pro", "models/gemini-2.5-pro"), ("gemini-2.0-flash-001", "models/gemini-2.0-flash-001"),
                        ("models/gemini-exp-1206", "models/gemini-exp-1206"), ("tunedModels/my-model-7", "tunedModels/my-model-7")]:
        assert gem.url(model, stream=False).endswith(f"/v1beta/{path}:generateContent")
