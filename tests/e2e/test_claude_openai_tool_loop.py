"""The real Claude Code CLI → `ccm-tui serve` → a fake OpenAI-compatible upstream: a full tool loop.

The fake first answers with a streamed ``tool_calls`` Bash call; Claude Code runs it and sends the
``tool_result`` back; the fake must then see a ``tool`` message holding the command's output, and
answers with text that ends up in ``--output-format json``'s ``result``.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import one_provider_config, run_claude
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest, Reply

pytestmark = pytest.mark.e2e

MARKER = "ccm-e2e-7f3a"
KEY = "sk-openai-e2e-canary"


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "model": "fake-gpt",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _usage(prompt: int, completion: int) -> dict:
    return {"id": "chatcmpl-e2e", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def _tool_output(request: RecordedRequest) -> str | None:
    for message in (request.body or {}).get("messages", []):
        if message.get("role") == "tool":
            return str(message.get("content"))
    return None


def respond(request: RecordedRequest) -> Reply:
    body = request.body or {}
    output = _tool_output(request)
    if output is not None:
        text = f"The command printed: {output.strip()}"
        return Reply.sse([_chunk({"role": "assistant", "content": ""}), _chunk({"content": text[:10]}),
                          _chunk({"content": text[10:]}), _chunk({}, "stop"), _usage(900, 12)])
    names = {t["function"]["name"] for t in body.get("tools", [])}
    if "Bash" in names:
        args = json.dumps({"command": f"echo {MARKER}", "description": "print the marker"})
        return Reply.sse([
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": "Running it."}),
            _chunk({"tool_calls": [{"index": 0, "id": "call_e2e_1", "type": "function",
                                    "function": {"name": "Bash", "arguments": ""}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:17]}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[17:]}}]}),
            _chunk({}, "tool_calls"), _usage(800, 20),
        ], piece=[5, 50, 300])
    return Reply.sse([_chunk({"content": "ok"}), _chunk({}, "stop"), _usage(10, 1)])  # titles, side requests


def test_claude_completes_a_tool_loop_through_an_openai_upstream(claude, serve, tmp_path) -> None:
    with FakeOpenAI(responder=respond) as fake:
        handle = serve(one_provider_config("oai", "openai", fake.base_url, "fake-gpt", "OAI_KEY"),
                       env={"OAI_KEY": KEY})
        result = run_claude(claude, handle.base_url, handle.token, "Run `echo` on the marker and tell me the output.",
                            tmp_path / "home", "--allowedTools", "Bash")
        lines = handle.read_lines(2)
    assert result["is_error"] is False, result
    assert result["result"] == f"The command printed: {MARKER}", result
    loop = [r for r in fake.requests if r.body and r.body.get("tools")]
    assert len(loop) >= 2, [r.body.get("messages", [])[-1:] for r in fake.requests]
    first, second = loop[0].body, loop[-1].body
    assert first["model"] == "fake-gpt" and first["stream"] is True
    assert loop[0].headers["authorization"] == f"Bearer {KEY}"
    sent = json.dumps(first)
    for anthropic_only in ("cache_control", "context_management", "x-anthropic-billing-header", "$schema"):
        assert anthropic_only not in sent, anthropic_only
    assistant = [m for m in second["messages"] if m["role"] == "assistant" and m.get("tool_calls")][-1]
    assert assistant["tool_calls"][0]["id"] == "call_e2e_1", "the upstream call id round-trips"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"])["command"] == f"echo {MARKER}"
    tool = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool and tool[0]["tool_call_id"] == "call_e2e_1" and MARKER in tool[0]["content"]
    assert second["messages"].index(tool[0]) == second["messages"].index(assistant) + 1
    assert all(KEY not in line for line in lines)


def test_an_invalid_tool_call_is_retried_before_claude_code_sees_it(claude, serve, tmp_path) -> None:
    """The model first calls Bash without its required ``command``: Claude Code would answer with an
    input validation error and loop; the proxy retries (same target: no fallback here) instead."""
    asked: list[int] = []

    def invalid_first(request: RecordedRequest) -> Reply:
        body = request.body or {}
        names = {t["function"]["name"] for t in body.get("tools", [])}
        if _tool_output(request) is None and "Bash" in names:
            asked.append(1)
            args = {"cmd": f"echo {MARKER}"} if len(asked) == 1 else {"command": f"echo {MARKER}"}
            return Reply.sse([_chunk({"role": "assistant", "content": ""}),
                              _chunk({"tool_calls": [{"index": 0, "id": f"call_{len(asked)}", "type": "function",
                                                      "function": {"name": "Bash", "arguments": json.dumps(args)}}]}),
                              _chunk({}, "tool_calls"), _usage(800, 20)])
        return respond(request)

    with FakeOpenAI(responder=invalid_first) as fake:
        handle = serve(one_provider_config("oai", "openai", fake.base_url, "fake-gpt", "OAI_KEY"),
                       env={"OAI_KEY": KEY})
        result = run_claude(claude, handle.base_url, handle.token, "Run `echo` on the marker and tell me the output.",
                            tmp_path / "home", "--allowedTools", "Bash")
    assert result["is_error"] is False, result
    assert result["result"] == f"The command printed: {MARKER}", result
    assert len(asked) == 2, "one retry, then the valid call reached Claude Code"
    tool_messages = [m for r in fake.requests for m in (r.body or {}).get("messages", []) if m.get("role") == "tool"]
    assert tool_messages and all("rror" not in str(m["content"]) for m in tool_messages)
