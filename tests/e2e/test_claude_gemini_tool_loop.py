"""The real Claude Code CLI → `ccm-tui serve` → a fake Gemini server: a full Bash tool loop."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import one_provider_config, run_claude
from tests.fakes.gemini_server import (
    FakeGemini,
    GeminiReply,
    RecordedRequest,
    call_part,
    chunk,
    text_part,
    usage,
)
from tests.fakes.server import run_asgi

pytestmark = pytest.mark.e2e

KEY = "AIza-e2e-canary-DO-NOT-LEAK"
MARKER = "gemini-e2e-marker-4711"
SIGNATURE = "CiQBe2e+thought/signature=="


def function_responses(sent: RecordedRequest) -> list[dict]:
    return [p["functionResponse"] for turn in sent.body.get("contents", []) for p in turn["parts"]
            if "functionResponse" in p]


def answer(sent: RecordedRequest) -> GeminiReply:
    """First a Bash call; once its output comes back, a text that quotes it."""
    declared = [d["name"] for t in sent.body.get("tools", []) for d in t.get("functionDeclarations", [])]
    responses = [r for r in function_responses(sent) if r["name"] == "Bash"]
    if responses:
        output = str(responses[-1]["response"].get("result", responses[-1]["response"]))
        return GeminiReply(chunks=[chunk([text_part("The tool printed: ")]),
                                   chunk([text_part(output.strip())], "STOP", usage(200, 12))])
    if "Bash" in declared:
        return GeminiReply(chunks=[chunk([call_part("Bash", {"command": f"echo {MARKER}",
                                                             "description": "print the marker"}, SIGNATURE)],
                                         "STOP", usage(180, 20))])
    return GeminiReply(chunks=[chunk([text_part("ok")], "STOP", usage(10, 1))])


def test_claude_tool_loop_through_gemini(claude, serve, tmp_path) -> None:
    fake = FakeGemini()
    fake.handler = answer
    with run_asgi(fake.app) as upstream:
        handle = serve(one_provider_config("gem", "gemini", upstream, "gemini-2.5-pro", "GEMINI_KEY"),
                       env={"GEMINI_KEY": KEY})
        result = run_claude(claude, handle.base_url, handle.token, "print the marker with Bash",
                            tmp_path / "home", "--allowedTools", "Bash")
        lines = handle.read_lines(2)
    assert result["is_error"] is False, result
    assert result["result"] == f"The tool printed: {MARKER}"
    with_output = [r for r in fake.requests if any(MARKER in str(f["response"]) for f in function_responses(r))]
    assert with_output, "the Bash output reached Gemini as a functionResponse"
    sent = with_output[0]
    call = next(p for turn in sent.body["contents"] if turn["role"] == "model" for p in turn["parts"]
                if "functionCall" in p)
    assert call["thoughtSignature"] == SIGNATURE, "the thought signature came back on its function call"
    assert all(r.headers.get("x-goog-api-key") == KEY and KEY not in r.path + r.query for r in fake.requests)
    assert all(KEY not in line for line in lines)


def positional_answer(sent: RecordedRequest) -> GeminiReply:
    """Two parallel Bash calls without ids; Gemini pairs the responses with the calls by position."""
    declared = [d["name"] for t in sent.body.get("tools", []) for d in t.get("functionDeclarations", [])]
    responses = function_responses(sent)
    if len(responses) >= 2:
        a, b = (str(r["response"].get("result", r["response"])).strip() for r in responses[-2:])
        return GeminiReply(chunks=[chunk([text_part(f"A={a} B={b}")], "STOP", usage(200, 12))])
    if "Bash" in declared:
        calls = [call_part("Bash", {"command": "sleep 1 && echo slow-A", "description": "slow"}, SIGNATURE),
                 call_part("Bash", {"command": "echo fast-B", "description": "fast"})]
        return GeminiReply(chunks=[chunk(calls, "STOP", usage(180, 20))])
    return GeminiReply(chunks=[chunk([text_part("ok")], "STOP", usage(10, 1))])


def test_parallel_results_reach_gemini_in_call_order(claude, serve, tmp_path) -> None:
    """Claude Code sends the fast tool's result first; each call must still get its own output."""
    fake = FakeGemini()
    fake.handler = positional_answer
    with run_asgi(fake.app) as upstream:
        handle = serve(one_provider_config("gem", "gemini", upstream, "gemini-2.5-pro", "GEMINI_KEY"),
                       env={"GEMINI_KEY": KEY})
        result = run_claude(claude, handle.base_url, handle.token, "run both commands with Bash",
                            tmp_path / "home", "--allowedTools", "Bash")
    assert result["is_error"] is False, result
    assert result["result"] == "A=slow-A B=fast-B"
