"""Per-target adaptation before sending (issue 9.2, 9.3): output cap and text-only models."""

from __future__ import annotations

import time

import anthropic

from ccm_tui.events import EventBus, FlowEvent
from ccm_tui.limits import IMAGE_PLACEHOLDER
from tests.conftest import anthropic_config

LIMITS = """
[providers.anthropic.limits]
"claude-sonnet-4-5" = { context_window = 200000, max_output_tokens = 1000, vision = false }
"""
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def test_text_only_model_gets_placeholders_and_clamped_max_tokens(fake_anthropic, start_proxy) -> None:
    bus = EventBus()
    done = []
    bus.subscribe(lambda event, flow: done.append(flow) if event == FlowEvent.FINISHED else None)
    config = anthropic_config(fake_anthropic.base_url, LIMITS)
    server = start_proxy(config, bus)
    client = anthropic.Anthropic(base_url=server.base_url, api_key=server.token.reveal(), max_retries=0)
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "what is this?"}, IMAGE]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [IMAGE]}]},
    ]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=32000, messages=messages) as stream:
        stream.get_final_message()
    sent = fake_anthropic.requests[-1]["body"]
    assert sent["max_tokens"] == 1000
    assert sent["messages"][0]["content"][1] == {"type": "text", "text": IMAGE_PLACEHOLDER}
    assert sent["messages"][2]["content"][0]["content"] == [{"type": "text", "text": IMAGE_PLACEHOLDER}]
    deadline = time.monotonic() + 5  # the record finishes just after the last byte leaves
    while not done and time.monotonic() < deadline:
        time.sleep(0.01)
    notes = " | ".join(done[0].notes)
    assert "max_tokens 32000 clamped to 1000" in notes and "image" in notes
    assert done[0].request_body["messages"][0]["content"][1]["type"] == "image", "the incoming record is untouched"


def test_vision_model_keeps_images_and_max_tokens(fake_anthropic, proxy) -> None:
    client = anthropic.Anthropic(base_url=proxy.base_url, api_key=proxy.token.reveal(), max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=32000,
                                messages=[{"role": "user", "content": [IMAGE]}]) as stream:
        stream.get_final_message()
    sent = fake_anthropic.requests[-1]["body"]
    assert sent["max_tokens"] == 32000 and sent["messages"][0]["content"][0]["type"] == "image"
