"""The real Claude Code CLI → `ccm-tui serve` (``api = "responses"``) → a fake Responses upstream.

The fake reasons on every answer and, like the real API used statelessly, rejects any request
whose history holds one of its answers without that answer's reasoning item (same id, same
``encrypted_content``) in front of it. Claude Code runs a Bash tool loop, then a second turn of the
same conversation (``--continue``): both only pass if the reasoning items travel back through the
thinking and redacted_thinking blocks claude keeps.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.e2e.conftest import one_provider_config, run_claude
from tests.fakes.openai_server import Reply
from tests.fakes.responses_server import (
    EventReply,
    FakeOpenAI,
    RecordedRequest,
    function_call,
    message,
    reasoning,
    stream_events,
    usage,
)

pytestmark = pytest.mark.e2e

MARKER = "ccm-resp-e2e-41c9"
KEY = "sk-responses-e2e-canary"


class ReasoningUpstream:
    """Answers like a reasoning model and checks that its reasoning comes back in place."""

    def __init__(self) -> None:
        self.issued: dict[str, tuple[str, str]] = {}  # call_id or answer text → (reasoning id, encrypted)
        self.rejected: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    def respond(self, request: RecordedRequest) -> Reply:
        body = request.body or {}
        items = body.get("input") or []
        problem = self._missing_reasoning(items)
        if problem:
            self.rejected.append(problem)
            return Reply.error(400, problem, code="invalid_request_error")
        with self._lock:
            n = len(self.issued)
        summarised = isinstance(body.get("reasoning"), dict) and body["reasoning"].get("summary") == "auto"
        rid, encrypted = f"rs_e2e_{n}", f"ENC-{n}-" + "x" * 64
        thought = reasoning(f"Thinking step {n}." if summarised else [], encrypted, rid)
        outputs = [i.get("output") for i in items if i.get("type") == "function_call_output"]
        names = {t.get("name") for t in body.get("tools") or []}
        later_turn = sum(1 for i in items if i.get("type") == "message" and i.get("role") == "user") > 1
        if outputs and not later_turn:
            text = f"The command printed: {str(outputs[-1]).strip()}"
            output = [reasoning([], encrypted, rid), message(text)]  # no summary: a redacted_thinking block
            self._issue(text, rid, encrypted)
        elif later_turn and "Bash" in names:
            text = f"Second turn: {self.checked} reasoning item(s) came back"
            output = [thought, message(text)]
            self._issue(text, rid, encrypted)
        elif "Bash" in names:
            call_id = "call_e2e_1"
            args = json.dumps({"command": f"echo {MARKER}", "description": "print the marker"})
            output = [thought, message("Running it."), function_call("Bash", args, call_id)]
            self._issue(call_id, rid, encrypted)
            self._issue("Running it.", rid, encrypted)
        else:  # titles and other side requests
            output = [message("ok")]
        return EventReply(events=stream_events(output, usage(900, 30, cached=512, reasoning_tokens=8)),
                          piece=[5, 60, 300])

    def _issue(self, key: str, rid: str, encrypted: str) -> None:
        with self._lock:
            self.issued[key] = (rid, encrypted)

    def _missing_reasoning(self, items: list[dict[str, Any]]) -> str | None:
        seen: dict[str, str] = {}
        for item in items:
            if item.get("type") == "reasoning":
                seen[str(item.get("id"))] = str(item.get("encrypted_content"))
                continue
            if item.get("type") == "function_call":
                key = str(item.get("call_id"))
            elif item.get("type") == "message" and item.get("role") == "assistant":
                key = "".join(p.get("text", "") for p in item.get("content") or [])
            else:
                continue
            if key not in self.issued:
                continue
            rid, encrypted = self.issued[key]
            if seen.get(rid) != encrypted:
                return f"Item for {key[:40]!r} was provided without its required 'reasoning' item: {rid!r}."
            self.checked += 1
        return None


def test_claude_tool_loop_and_second_turn_through_a_responses_upstream(claude, serve, tmp_path) -> None:
    upstream = ReasoningUpstream()
    config = one_provider_config("resp", "openai", "BASE", "gpt-5-fake", "RESP_KEY").replace(
        'type = "openai"', 'type = "openai"\napi = "responses"')
    with FakeOpenAI(responder=upstream.respond) as fake:
        handle = serve(config.replace("BASE", fake.base_url), env={"RESP_KEY": KEY})
        home = tmp_path / "home"
        first = run_claude(claude, handle.base_url, handle.token, "Run `echo` on the marker and tell me the output.",
                           home, "--allowedTools", "Bash")
        second = run_claude(claude, handle.base_url, handle.token, "Thanks. Anything else?", home,
                            "--continue", "--allowedTools", "Bash")
        lines = handle.read_lines(3)
    assert not upstream.rejected, upstream.rejected
    assert first["is_error"] is False and first["result"] == f"The command printed: {MARKER}", first
    assert second["is_error"] is False and second["result"].startswith("Second turn:"), second
    loop = [r.body for r in fake.requests if r.body and r.body.get("tools")]
    assert all(r.path == "/v1/responses" for r in fake.requests)
    assert loop[0]["store"] is False and "reasoning.encrypted_content" in loop[0].get("include", [])
    calls = [i for i in loop[1]["input"] if i.get("type") == "function_call"]
    assert calls and calls[0]["call_id"] == "call_e2e_1"
    assert json.loads(calls[0]["arguments"])["command"] == f"echo {MARKER}"
    output = [i for i in loop[1]["input"] if i.get("type") == "function_call_output"]
    assert output and output[0]["call_id"] == "call_e2e_1" and MARKER in str(output[0]["output"])
    # the second turn's history holds both earlier answers, each behind its reasoning item
    assert sum(1 for i in loop[-1]["input"] if i.get("type") == "reasoning") >= 2
    assert upstream.checked >= 3
    assert loop[0].get("prompt_cache_key") and loop[0]["prompt_cache_key"] == loop[1].get("prompt_cache_key")
    assert all(KEY not in line for line in lines)
