"""curl and JSONL export are redacted; the answer text is rebuilt from a JSON body or stream events."""

from __future__ import annotations

import json
from pathlib import Path

from ccm_tui.export import answer_text, curl_command, write_jsonl
from ccm_tui.flow import Flow
from ccm_tui.secrets import Redactor, Secret

KEY = "sk-canary-export-123456"
TOKEN = "ccm-proxy-token-abcdef"


def flow_with_secrets() -> Flow:
    flow = Flow("POST", "/v1/messages?beta=true", {"x-api-key": TOKEN, "anthropic-beta": "tools-1",
                                                   "anthropic-version": "2023-06-01"})
    flow.request_body = {"model": "m", "messages": [{"role": "user", "content": f"key {KEY} it's"}]}
    flow.upstream_body = {"model": "m2", "note": KEY}
    flow.upstream_headers = {"authorization": f"Bearer {KEY}", "request-id": "r1"}
    return flow


def test_curl_is_redacted_and_runnable_shape() -> None:
    command = curl_command(flow_with_secrets(), "http://127.0.0.1:9/", Redactor([Secret(KEY), Secret(TOKEN)]))
    assert command.startswith("curl -sS -N 'http://127.0.0.1:9/v1/messages?beta=true' ")
    assert '"x-api-key: $ANTHROPIC_AUTH_TOKEN"' in command and "anthropic-beta: tools-1" in command
    assert KEY not in command and TOKEN not in command
    body = command.split("<<'CCM_JSON'\n", 1)[1].rsplit("\nCCM_JSON", 1)[0]
    assert json.loads(body)["messages"][0]["content"] == "key *** it's"


def test_jsonl_records_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "out" / "s.jsonl"
    assert write_jsonl([flow_with_secrets(), flow_with_secrets()], path, Redactor([Secret(KEY), Secret(TOKEN)])) == 2
    text = path.read_text()
    assert KEY not in text and TOKEN not in text
    record = json.loads(text.splitlines()[0])
    assert record["upstream_body"] == {"model": "m2", "note": "***"}
    assert record["upstream_headers"]["authorization"] == "***"
    assert path.stat().st_mode & 0o777 == 0o600


def test_answer_text_from_body_and_from_events() -> None:
    flow = Flow("POST", "/v1/messages", {})
    flow.response_body = {"content": [{"type": "text", "text": "hi"},
                                      {"type": "tool_use", "name": "Bash", "input": {"cmd": "ls"}}]}
    assert answer_text(flow) == 'hi\n[tool_use Bash] {"cmd": "ls"}'
    streamed = Flow("POST", "/v1/messages", {})
    streamed.events = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
    ]
    streamed.error = "overloaded"
    assert answer_text(streamed) == "[thinking] hmm\nHello\n[error] overloaded"


def test_export_folders_are_private_and_a_session_id_cannot_pick_the_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    from ccm_tui.export import default_export_path

    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "state" / "exports" / "s.jsonl"
        write_jsonl([flow_with_secrets()], path, Redactor([]))
        assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "state" / "exports").stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    for hostile in ("../../../x", "a/b\x1b[2J", "..", "\n"):
        chosen = default_export_path(hostile)
        assert chosen.parent.name == "exports" and "/" not in chosen.name and ".." not in chosen.name
        assert chosen.name.isprintable()
