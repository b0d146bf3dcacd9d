"""Claude Code's web search sub-request on OpenAI-compatible routes: request translation per preset
(tables), annotations → Anthropic search blocks (pure), and the whole path over real HTTP with the
official anthropic SDK as the client and a fake OpenAI/OpenRouter server upstream."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from ccm_tui.config import parse_config
from ccm_tui.errors import InvalidRequest
from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.flow import Flow
from ccm_tui.providers.openai.presets import get_preset
from ccm_tui.providers.openai.request import translate_request
from ccm_tui.providers.openai.response import translate_response
from ccm_tui.providers.openai.stream import OpenAIStreamTranslator, message_events
from ccm_tui.providers.openai.websearch import SearchStream, plan_web_search, search_message, url_citations
from ccm_tui.providers.websearch import user_query
from ccm_tui.sse import SSEDecoder
from tests.fakes.openai_server import FakeOpenAI, Reply, assemble

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "claude-code" / "websearch_server_tool.json").read_text())
WEB_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
FORCED = {"type": "tool", "name": "web_search"}
QUERY = "python textual release notes"
ASK = [{"role": "user", "content": [{"type": "text", "text": f"Perform a web search for the query: {QUERY}"}]}]
BASH = {"name": "Bash", "input_schema": {"type": "object", "properties": {}}}


def search_body(**over: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 1000, "messages": ASK, "tools": [WEB_TOOL], "tool_choice": FORCED,
            "temperature": 1, **over}


def translate(body: dict[str, Any], preset: str | None, model: str = "m", **options: Any):
    notes: list[str] = []
    p = get_preset(preset, options)
    plan = plan_web_search(body, p, "up", model)
    out = translate_request({**body, "model": model}, p, note=notes.append, search=plan)
    return out.payload, notes, plan


# -- request translation ----------------------------------------------------------------------------
@pytest.mark.parametrize(("preset", "model", "options", "tool", "expect"), [
    ("openrouter", "openai/gpt-4o-mini", {}, WEB_TOOL, {"plugins": [{"id": "web", "max_results": 8}]}),
    ("openrouter", "x/y", {}, {**WEB_TOOL, "max_uses": 40}, {"plugins": [{"id": "web", "max_results": 10}]}),
    ("openrouter", "x/y", {}, {"type": "web_search_20250305", "name": "web_search"},
     {"plugins": [{"id": "web", "max_results": 5}]}),
    ("openai", "gpt-4o-search-preview", {}, WEB_TOOL, {"web_search_options": {}}),
    ("openai", "gpt-5-search-api", {}, {**WEB_TOOL, "user_location": {
        "type": "approximate", "city": "Lyon", "country": "FR", "timezone": "Europe/Paris", "region": None}},
     {"web_search_options": {"user_location": {"type": "approximate", "approximate": {
         "country": "FR", "city": "Lyon", "timezone": "Europe/Paris"}}}}),
    (None, "local-model", {"web_search": "plugin"}, WEB_TOOL, {"plugins": [{"id": "web", "max_results": 8}]}),
    ("deepseek", "deepseek-chat", {"web_search": "options"}, WEB_TOOL, {"web_search_options": {}}),
])
def test_search_request_per_preset(preset, model, options, tool, expect) -> None:
    payload, notes, plan = translate(search_body(tools=[tool]), preset, model, **options)
    assert plan is not None and plan.query == QUERY
    assert {k: payload[k] for k in expect} == expect
    assert payload["model"] == model, "the model id is never rewritten (no :online suffix)"
    assert "tools" not in payload and "tool_choice" not in payload
    assert not any("server tool" in n or "tool_choice" in n for n in notes), notes
    other = "web_search_options" if "plugins" in expect else "plugins"
    assert other not in payload
    if "web_search_options" in expect:
        assert "temperature" not in payload, "search models reject sampling parameters"
    else:
        assert payload["temperature"] == 1


@pytest.mark.parametrize(("preset", "model", "options"), [
    ("openai", "gpt-4o", {}),  # a model known not to search
    ("openai", "o3", {}),
    ("deepseek", "deepseek-chat", {}),
    (None, "llama3", {}),
    ("groq", "llama-3.3-70b", {}),
    ("openrouter", "x/y", {"web_search": "none"}),
    ("openai", "gpt-4o", {"web_search": "bogus"}),
])
def test_no_search_is_a_typed_error_naming_the_route_key(preset, model, options) -> None:
    with pytest.raises(InvalidRequest) as err:
        translate(search_body(), preset, model, **options)
    text = err.value.message
    assert f"web search is unavailable on up,{model}" in text
    assert "[router] web_search" in text and "[providers.up.options] web_search" in text
    assert err.value.status == 400 and err.value.error_type == "invalid_request_error"


@pytest.mark.parametrize("body", [
    search_body(tools=[WEB_TOOL, BASH], tool_choice={"type": "auto"}),  # one tool among others: not forced
    search_body(tool_choice={"type": "none"}),
    search_body(tools=[BASH], tool_choice=None),
])
def test_requests_that_are_not_a_search_keep_the_old_behaviour(body) -> None:
    payload, notes, plan = translate(body, "deepseek", "deepseek-chat")  # would raise if taken for a search
    assert plan is None and "plugins" not in payload and "web_search_options" not in payload


def test_web_search_among_function_tools_but_forced_is_a_search() -> None:
    payload, _, plan = translate(search_body(tools=[BASH, WEB_TOOL]), "openrouter")
    assert plan is not None and payload["plugins"]
    assert [t["function"]["name"] for t in payload["tools"]] == ["Bash"]


def test_domain_filters_are_noted_as_not_enforced() -> None:
    _, notes, _ = translate(search_body(tools=[{**WEB_TOOL, "allowed_domains": ["a.example"]}]), "openrouter")
    assert any("allowed_domains" in n for n in notes)


@pytest.mark.parametrize(("content", "query"), [
    ("Perform a web search for the query: rust 2024", "rust 2024"),
    ("  what is new in textual  ", "what is new in textual"),
    ([{"type": "text", "text": "a"}, {"type": "image", "source": {}}, {"type": "text", "text": "b"}], "a\nb"),
])
def test_query_is_the_user_text(content, query) -> None:
    assert user_query({"messages": [{"role": "user", "content": "old"}, {"role": "assistant", "content": "x"},
                                    {"role": "user", "content": content}]}) == query


def test_real_fixture_body_on_openrouter() -> None:
    body = copy.deepcopy(FIXTURE["body"])
    payload, _, plan = translate(body, "openrouter", "openai/gpt-4o-mini")
    assert plan is not None and plan.query == QUERY
    assert payload["plugins"] == [{"id": "web", "max_results": 8}]
    assert payload["stream"] is True and "tools" not in payload
    assert payload["messages"][-1] == {"role": "user", "content": f"Perform a web search for the query: {QUERY}"}


# -- answers (pure) ---------------------------------------------------------------------------------
A_URL, B_URL = "https://textual.textualize.io/blog/", "https://github.com/Textualize/textual/releases"
TEXT = (f"Textual 3.0 adds themes ([textual.textualize.io]({A_URL})). "
        f"Releases are tagged on GitHub ([github.com]({B_URL})). Done.")


def cite(url: str, title: str | None, span: str | None, content: str | None = None) -> dict[str, Any]:
    start = TEXT.index(span) if span else 0
    body: dict[str, Any] = {"url": url, "start_index": start, "end_index": start + len(span) if span else 0}
    if title is not None:
        body["title"] = title
    if content is not None:
        body["content"] = content
    return {"type": "url_citation", "url_citation": body}


A_SPAN, B_SPAN = f"([textual.textualize.io]({A_URL}))", f"([github.com]({B_URL}))"
ANNOTATIONS = [
    cite(A_URL, "Textual blog", A_SPAN),
    cite(B_URL, None, B_SPAN, content="Textual v3.0.0 released"),
    cite(A_URL, "Textual blog", A_SPAN),  # repeated: one citation
    cite(B_URL, None, None),  # unusable span: the source stays listed
]


def test_annotations_become_search_blocks_and_cited_text() -> None:
    message = {"content": [{"type": "text", "text": TEXT}], "usage": {"input_tokens": 3}}
    out = search_message(message, url_citations({"annotations": ANNOTATIONS + [{"type": "file"}]}), QUERY)
    use, result, *texts = out["content"]
    assert use["type"] == "server_tool_use" and use["id"].startswith("srvtoolu_")
    assert use["name"] == "web_search" and use["input"] == {"query": QUERY}
    assert result == {"type": "web_search_tool_result", "tool_use_id": use["id"], "content": [
        {"type": "web_search_result", "url": A_URL, "title": "Textual blog", "encrypted_content": "", "page_age": None},
        {"type": "web_search_result", "url": B_URL, "title": B_URL, "encrypted_content": "", "page_age": None}]}
    assert "".join(t["text"] for t in texts) == TEXT
    assert [t["text"] for t in texts if t.get("citations")] == [A_SPAN, B_SPAN]
    a, b = (t["citations"] for t in texts if t.get("citations"))
    assert a == [{"type": "web_search_result_location", "url": A_URL, "title": "Textual blog",
                  "cited_text": A_SPAN, "encrypted_index": ""}]
    assert b[0]["cited_text"] == "Textual v3.0.0 released" and b[0]["title"] == B_URL
    assert out["usage"] == {"input_tokens": 3, "server_tool_use": {"web_search_requests": 1}}


def test_no_annotations_still_reports_the_search() -> None:
    out = search_message({"content": [{"type": "text", "text": "nothing"}], "usage": {}}, [], QUERY)
    assert [b["type"] for b in out["content"]] == ["server_tool_use", "web_search_tool_result", "text"]
    assert out["content"][1]["content"] == []


def completion(text: str, annotations: list[dict[str, Any]], **message: Any) -> dict[str, Any]:
    return {"id": "gen-1", "object": "chat.completion", "model": "up", "choices": [{
        "index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": text, "annotations": annotations, **message}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40}}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    return {"id": "gen-1", "object": "chat.completion.chunk", "model": "up",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}


USAGE_CHUNK = {"id": "gen-1", "object": "chat.completion.chunk", "choices": [],
               "usage": {"prompt_tokens": 900, "completion_tokens": 40}}


def stream_chunks(text: str = TEXT, annotations: list[dict[str, Any]] = ANNOTATIONS, size: int = 9) -> list[dict]:
    """Content in small pieces; annotations split over the last content chunk and a bare delta."""
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces[:-1]]
    out.append(chunk({"content": pieces[-1], "annotations": annotations[:1]}))
    out.append(chunk({"annotations": annotations[1:]}))
    return out + [chunk(finish="stop"), USAGE_CHUNK]


def normalised(message: dict[str, Any]) -> dict[str, Any]:
    """Ids are random per answer: compare everything else."""
    out = json.loads(json.dumps({k: v for k, v in message.items() if k != "id"}))
    for block in out["content"]:
        for key in ("id", "tool_use_id"):
            if key in block:
                block[key] = "X"
    return out


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_stream_translation_equals_non_stream(size: int) -> None:
    translator = OpenAIStreamTranslator("claude-x", search=SearchStream(QUERY))
    events = []
    for c in stream_chunks(size=size):
        events += translator.feed(c)
    events += translator.finish()
    streamed = assemble(events)
    plain = search_message(translate_response(completion(TEXT, ANNOTATIONS), model="claude-x"),
                           url_citations({"annotations": ANNOTATIONS}), QUERY)
    assert normalised(streamed) == normalised(plain)
    names = [n for n, d in events if n == "content_block_delta" and d["delta"]["type"] == "text_delta"]
    assert len(names) == 5, "held text goes out as one delta per block"
    assert assemble(message_events(plain)) == plain, "the replay of a JSON answer keeps the search blocks"


def test_stream_reasoning_streams_live_before_the_held_answer() -> None:
    translator = OpenAIStreamTranslator("claude-x", search=SearchStream(QUERY))
    first = translator.feed(chunk({"reasoning": "Looking it up."}))
    assert any(d.get("delta", {}).get("type") == "thinking_delta" for _, d in first)
    held = translator.feed(chunk({"content": "Textual 3.0 adds themes."}))
    assert all(n != "content_block_start" for n, _ in held)
    rest = translator.feed(chunk(finish="stop")) + translator.feed(USAGE_CHUNK) + translator.finish()
    message = assemble(first + held + rest)
    assert [b["type"] for b in message["content"]] == ["thinking", "server_tool_use", "web_search_tool_result", "text"]
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1}


# -- over real HTTP ---------------------------------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def flows() -> list[Flow]:
    return []


def config(base_url: str, preset: str, model: str) -> Any:
    return parse_config(f"""
[providers.up]
type = "openai"
preset = "{preset}"
base_url = "{base_url}"
api_key = "sk-test"
models = ["{model}"]

[router]
default = "up,{model}"
""")


def start(start_proxy, cfg: Any, flows: list[Flow]):  # type: ignore[no-untyped-def]
    bus = EventBus()
    bus.subscribe(lambda event, flow: flows.append(flow) if event in (FlowEvent.FINISHED, FlowEvent.FAILED) else None)
    return start_proxy(cfg, bus)


def client(proxy) -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0, timeout=20)


SDK_ASK = dict(model="claude-opus-4-8", max_tokens=4000, messages=ASK, tools=[WEB_TOOL], tool_choice=FORCED)


@pytest.mark.parametrize(("preset", "model", "switch"), [
    ("openrouter", "openai/gpt-4o-mini", "plugins"),
    ("openai", "gpt-4o-search-preview", "web_search_options"),
])
def test_sdk_stream_and_create_agree(fake: FakeOpenAI, start_proxy, flows, preset, model, switch) -> None:
    proxy = start(start_proxy, config(fake.base_url, preset, model), flows)
    fake.script(Reply.sse(stream_chunks(), piece=[5, 40, 3]), Reply.json(completion(TEXT, ANNOTATIONS)))
    c = client(proxy)
    with c.messages.stream(**SDK_ASK) as stream:
        streamed = stream.get_final_message()
    plain = c.messages.create(**SDK_ASK)
    assert normalised(streamed.model_dump()) == normalised(plain.model_dump())
    kinds = [b.type for b in plain.content]
    assert kinds[:2] == ["server_tool_use", "web_search_tool_result"] and set(kinds[2:]) == {"text"}
    assert plain.content[0].input == {"query": QUERY}
    assert plain.content[1].tool_use_id == plain.content[0].id
    assert [r.url for r in plain.content[1].content] == [A_URL, B_URL]
    cited = [b for b in plain.content[2:] if b.citations]
    assert [b.citations[0].url for b in cited] == [A_URL, B_URL]
    assert cited[0].citations[0].type == "web_search_result_location"
    assert plain.usage.server_tool_use.web_search_requests == 1
    assert streamed.model == "claude-opus-4-8"
    for sent in fake.bodies():
        assert switch in sent and "tools" not in sent and sent["model"] == model
    deadline = time.monotonic() + 5
    while len(flows) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any("web search via" in n for n in flows[0].notes)


def test_sdk_gets_the_typed_error_where_nothing_searches(fake: FakeOpenAI, start_proxy, flows) -> None:
    proxy = start(start_proxy, config(fake.base_url, "deepseek", "deepseek-chat"), flows)
    with pytest.raises(anthropic.BadRequestError) as err:
        client(proxy).messages.create(**SDK_ASK)
    assert err.value.body["error"]["type"] == "invalid_request_error"
    assert "web search is unavailable on up,deepseek-chat" in err.value.message
    assert "[router] web_search" in err.value.message
    assert fake.requests == [], "nothing was sent upstream"


def test_real_websearch_fixture_goes_to_the_web_search_route(fake: FakeOpenAI, start_proxy, flows) -> None:
    cfg = parse_config(f"""
[providers.or]
type = "openai"
preset = "openrouter"
base_url = "{fake.base_url}"
api_key = "sk-test"
models = ["openai/gpt-4o-mini"]

[providers.plain]
type = "openai"
preset = "deepseek"
base_url = "{fake.base_url}"
api_key = "sk-test"
models = ["deepseek-chat"]

[router]
default = "plain,deepseek-chat"
web_search = "or,openai/gpt-4o-mini"
""")
    proxy = start(start_proxy, cfg, flows)
    fake.script(Reply.sse(stream_chunks(size=4)))
    headers = {k: v for k, v in FIXTURE["headers"].items() if k != "content-type"}
    response = httpx.post(proxy.base_url + FIXTURE["path"], json=FIXTURE["body"], timeout=30,
                          headers={**headers, "authorization": f"Bearer {proxy.token.reveal()}"})
    assert response.status_code == 200, response.text
    sent = fake.bodies()[0]
    assert sent["model"] == "openai/gpt-4o-mini" and sent["plugins"] == [{"id": "web", "max_results": 8}]
    events = [(f.event, json.loads(f.data)) for f in SSEDecoder().feed(response.content)]
    message = assemble(events)
    assert [b["type"] for b in message["content"]][:2] == ["server_tool_use", "web_search_tool_result"]
    assert message["content"][0]["input"] == {"query": QUERY}
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1}
    deadline = time.monotonic() + 5
    while not flows and time.monotonic() < deadline:
        time.sleep(0.01)
    assert flows[0].route == "websearch"
