"""An imported config works: `ccm-tui config import` → load → the real proxy → fake upstreams of each type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from ccm_tui.config import load_config
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.litellm_server import FakeLiteLLM
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server import run_asgi

ENV = {"E2E_OPENAI_KEY": "sk-e2e-openai", "E2E_GEMINI_KEY": "AIza-e2e", "E2E_ANTHROPIC_KEY": "sk-ant-e2e",
       "E2E_LITELLM_KEY": "sk-e2e-litellm"}


def openai_answer(request: RecordedRequest) -> Reply:
    model = request.body["model"]
    usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    if request.body.get("stream"):
        delta = {"role": "assistant", "content": "hello from openai"}
        return Reply.sse([
            {"id": "c1", "object": "chat.completion.chunk", "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {"id": "c1", "object": "chat.completion.chunk", "model": model,
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"id": "c1", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage},
        ])
    return Reply.json({"id": "c1", "object": "chat.completion", "model": model, "usage": usage, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hello from openai"}, "finish_reason": "stop"}]})


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeOpenAI, FakeGemini, FakeAnthropic, FakeLiteLLM]]:
    gemini, claude, lite = FakeGemini(), FakeAnthropic(), FakeLiteLLM(master_key=ENV["E2E_LITELLM_KEY"])
    with FakeOpenAI(openai_answer) as oai, run_asgi(gemini.app) as g_url, run_asgi(claude.app) as a_url, \
            run_asgi(lite.app) as l_url:
        gemini.base_url, claude.base_url, lite.base_url = g_url, a_url, l_url  # type: ignore[attr-defined]
        yield oai, gemini, claude, lite


def import_config(tmp_path: Path, name: str, content: str) -> Path:
    source, dest = tmp_path / name, tmp_path / "config.toml"
    source.write_text(content)
    env = {k: v for k, v in os.environ.items() if k != "CCM_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "ccm_tui", "config", "import", str(source), "--output", str(dest)],
                            capture_output=True, text=True, timeout=60, env={**env, **ENV})
    assert result.returncode == 0, result.stderr
    assert not any(value in dest.read_text() for value in ENV.values())
    return dest


def test_claude_code_router_config_routes_to_each_type(tmp_path: Path, upstreams, start_proxy) -> None:
    oai, gemini, claude, _ = upstreams
    ccr = {
        "Providers": [
            {"name": "oai", "api_base_url": f"{oai.base_url}/chat/completions", "api_key": "$E2E_OPENAI_KEY",
             "models": ["gpt-4o-mini"]},
            {"name": "gem", "api_base_url": f"{gemini.base_url}/v1beta/models/", "api_key": "$E2E_GEMINI_KEY",
             "models": ["gemini-2.5-flash"], "transformer": {"use": ["gemini"]}},
            {"name": "ant", "api_base_url": f"{claude.base_url}/v1/messages", "api_key": "${E2E_ANTHROPIC_KEY}",
             "models": ["claude-sonnet-4-5"], "transformer": {"use": ["anthropic"]}},
        ],
        "Router": {"default": "oai,gpt-4o-mini", "background": "gem,gemini-2.5-flash",
                   "think": "ant,claude-sonnet-4-5"},
    }
    config = load_config(import_config(tmp_path, "config.json", json.dumps(ccr)), env=ENV)
    server = start_proxy(config)
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    hi = [{"role": "user", "content": "hi"}]

    plain = client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=hi)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=50, messages=hi) as stream:
        streamed = stream.get_final_message()
    assert plain.content[0].text == streamed.content[0].text == "hello from openai"
    assert [r.path for r in oai.requests] == ["/v1/chat/completions"] * 2
    assert oai.requests[0].headers["authorization"] == "Bearer sk-e2e-openai"
    assert oai.requests[0].body["model"] == "gpt-4o-mini"

    for stream in (False, True):
        if stream:
            with client.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=hi) as s:
                message = s.get_final_message()
        else:
            message = client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=hi)
        assert message.content[0].text == "Hello from fake Gemini."
    assert [r.path.rsplit(":", 1)[-1] for r in gemini.requests] == ["generateContent", "streamGenerateContent"]
    assert gemini.requests[0].path.endswith("/models/gemini-2.5-flash:generateContent")
    assert gemini.requests[0].headers["x-goog-api-key"] == "AIza-e2e"

    think = {"type": "enabled", "budget_tokens": 1024}
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, messages=hi, thinking=think)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=2048, messages=hi, thinking=think) as s:
        s.get_final_message()
    assert message.content[0].text == "Hello from the fake upstream."
    assert len(claude.requests) == 2 and claude.requests[0]["headers"]["x-api-key"] == "sk-ant-e2e"


def test_ccm_litellm_config_routes_to_litellm(tmp_path: Path, upstreams, start_proxy) -> None:
    lite = upstreams[3]
    ccm = f'[litellm]\nbase_url = "{lite.base_url}"\nmaster_key = "$E2E_LITELLM_KEY"\nmodel = "team-model"\n'
    config = load_config(import_config(tmp_path, "ccm.toml", ccm), env=ENV)
    server = start_proxy(config)
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=50,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        message = stream.get_final_message()
    assert message.content[0].text == "Hello from the fake upstream."
    assert lite.requests[-1]["body"]["model"] == "team-model"
    assert lite.requests[-1]["headers"]["authorization"] == "Bearer sk-e2e-litellm"
