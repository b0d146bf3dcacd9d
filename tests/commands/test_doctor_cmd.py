"""`ccm-tui doctor`: the route × capability matrix against fake upstreams that fail in known ways."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.cli import main
from tests.fakes.gemini_server import FakeGemini, GeminiReply, call_part, chunk, text_part, usage
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server import run_asgi

SEARCH_META = {"webSearchQueries": ["python release"],
               "groundingChunks": [{"web": {"uri": "https://a.example/1", "title": "a.example"}}],
               "groundingSupports": [{"segment": {"text": "Python 3.14 is out."}, "groundingChunkIndices": [0]}]}


def oai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def good_openai(request: RecordedRequest) -> Reply:
    """Answers like a capable server: reasoning, then a tool call when one is required, else text."""
    body = request.body
    if body.get("model") == "model-that-breaks":
        return Reply.error(503, "model-that-breaks is overloaded", type="server_error")
    wants_tool = body.get("tool_choice") == "required"
    usage_chunk = {"id": "c", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 5}}
    if wants_tool:
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "Bash", "arguments": json.dumps({"command": "echo hi"})}}
        deltas, finish, message = [{"tool_calls": [call]}], "tool_calls", {
            "content": None, "tool_calls": [{k: v for k, v in call.items() if k != "index"}]}
    else:
        deltas, finish, message = [{"content": "Hi."}], "stop", {"content": "Hi."}
    if body.get("stream"):
        return Reply.sse([oai_chunk({"role": "assistant", "reasoning_content": "thinking"}),
                          *[oai_chunk(d) for d in deltas], oai_chunk({}, finish), usage_chunk])
    return Reply.json({"id": "c", "object": "chat.completion", "model": "m", "usage": usage_chunk["usage"],
                       "choices": [{"index": 0, "finish_reason": finish, "message": {
                           "role": "assistant", "reasoning_content": "thinking", **message}}]})


def no_tools_openai(request: RecordedRequest) -> Reply:
    """A server that rejects tools and never reasons: tool and parallel fail, thinking is unsupported."""
    if request.body.get("tools"):
        return Reply.error(400, "this model does not support tools")
    reply = good_openai(request)
    if reply.chunks:
        reply.chunks[0]["choices"][0]["delta"].pop("reasoning_content")
    else:
        reply.body["choices"][0]["message"].pop("reasoning_content")
    return reply


def gemini_answer(request: Any) -> GeminiReply:
    body = request.body
    if {"google_search": {}} in body.get("tools", []):
        return GeminiReply(chunks=[chunk([text_part("Python 3.14 is out.")], "STOP", usage(),
                                         groundingMetadata=SEARCH_META)])
    if (body.get("toolConfig") or {}).get("functionCallingConfig", {}).get("mode") == "ANY":
        return GeminiReply(chunks=[chunk([call_part("Bash", {"command": "echo hi"}, signature="SIG")], "STOP")])
    return GeminiReply(chunks=[chunk([text_part("hmm", thought=True)]), chunk([text_part("Hi.")], "STOP", usage())])


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    gemini = FakeGemini()
    gemini.handler = gemini_answer
    with FakeOpenAI(responder=good_openai) as good, FakeOpenAI(responder=no_tools_openai) as weak, \
            run_asgi(gemini.app) as gemini_url:
        path = tmp_path / "config.toml"
        path.write_text(f"""
[providers.good]
type = "openai"
preset = "deepseek"
base_url = "{good.base_url}/v1"
api_key = "sk-doctor-canary-1"
models = ["good-model"]

[providers.weak]
type = "openai"
base_url = "{weak.base_url}/v1"
models = ["weak-model"]

[providers.weak.limits.weak-model]
vision = false

[providers.gem]
type = "gemini"
base_url = "{gemini_url}"
api_key = "AIza-doctor-canary-2"
models = ["gemini-2.5-flash"]

[router]
default = "good,good-model"
background = "weak,weak-model"
web_search = "gem,gemini-2.5-flash"
think = "good,model-that-breaks"
fallback = ["good,good-model"]
""")
        yield path


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def test_matrix_shows_each_route_and_fails_with_the_upstream_error(config: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = doctor(capsys, "--config", str(config), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    by_route = {r["route"]: r for r in report["routes"]}
    assert set(by_route) == {"default", "background", "web_search", "think"}
    status = {route: {c: o["status"] for c, o in r["results"].items()} for route, r in by_route.items()}
    assert status["default"] == {"stream": "ok", "non-stream": "ok", "tool": "ok", "parallel": "ok",
                                 "thinking": "ok", "image": "ok", "count_tokens": "ok", "web_search": "-"}
    weak = by_route["background"]["results"]
    assert (weak["tool"]["status"], weak["parallel"]["status"]) == ("fail", "fail")
    assert "does not support tools" in weak["tool"]["detail"]
    assert weak["thinking"]["status"] == "unsupported" and weak["image"]["status"] == "unsupported"
    assert weak["stream"]["status"] == weak["count_tokens"]["status"] == "ok"
    assert status["web_search"] == {"stream": "ok", "non-stream": "ok", "tool": "ok", "parallel": "ok",
                                    "thinking": "ok", "image": "ok", "count_tokens": "ok", "web_search": "ok"}
    # the configured fallback would have hidden it: a route is checked on its own target only
    broken = by_route["think"]["results"]
    assert {c for c, o in broken.items() if o["status"] == "fail"} == {
        "stream", "non-stream", "tool", "parallel", "thinking", "image"}
    assert all("overloaded" in broken[c]["detail"] for c in ("stream", "tool"))
    assert broken["count_tokens"]["status"] == "ok"  # answered locally
    assert "canary" not in out


def test_text_matrix_and_one_route(config: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = doctor(capsys, "--config", str(config), "--route", "default")
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split() == ["route", "target", "stream", "non-stream", "tool", "parallel", "thinking", "image",
                              "count_tokens", "web_search"]
    assert row.split() == ["default", "good,good-model", *["ok"] * 7, "-"]


def test_unknown_route_and_bad_config_exit_2(config: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["doctor", "--config", str(config), "--route", "nope"]) == 2
    assert "no route 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[router]\ndefault = 3\n")
    assert main(["doctor", "--config", str(bad)]) == 2
