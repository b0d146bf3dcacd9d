"""Anthropic passthrough specifics: foreign thinking signatures never reach Anthropic (issue 9.1)."""

from __future__ import annotations

import anthropic

from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.providers.anthropic import drop_foreign_thinking
from tests.conftest import anthropic_config

REAL_SIGNATURE = "EqQBCkYIBxgCKkBvJd0m" + "A" * 80

HISTORY = [
    {"role": "user", "content": "list files"},
    {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "made by deepseek", "signature": ""},
        {"type": "thinking", "thinking": "made by gemini", "signature": "gemini:abc"},
        {"type": "thinking", "thinking": "anthropic's own", "signature": REAL_SIGNATURE},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
    ]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}]},
]


def test_drop_foreign_thinking_keeps_signed_blocks_and_does_not_mutate() -> None:
    body = {"model": "m", "messages": HISTORY}
    out, dropped = drop_foreign_thinking(body)
    assert dropped == 2
    assistant = out["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["thinking", "tool_use"]
    assert assistant[0]["signature"] == REAL_SIGNATURE
    assert len(HISTORY[1]["content"]) == 4, "input untouched"
    same, none = drop_foreign_thinking({"model": "m", "messages": HISTORY[:1]})
    assert none == 0 and same["messages"] == HISTORY[:1]


def test_route_switch_history_reaches_anthropic_without_foreign_signatures(fake_anthropic, start_proxy) -> None:
    bus = EventBus()
    finished = []
    bus.subscribe(lambda event, flow: finished.append(flow) if event == FlowEvent.FINISHED else None)
    server = start_proxy(anthropic_config(fake_anthropic.base_url), bus)
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=HISTORY)
    sent = fake_anthropic.requests[-1]["body"]["messages"][1]["content"]
    assert [b.get("signature") for b in sent if b["type"] == "thinking"] == [REAL_SIGNATURE]
    assert any("dropped 2 thinking block(s)" in note for note in finished[0].notes)
