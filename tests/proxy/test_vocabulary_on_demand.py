"""Token vocabularies are built on first need, on a worker thread, never on the proxy's loop.

A cl100k vocabulary holds ~20 MB and takes 0.1-0.3 s of CPU to build: a proxy that never counts
never builds one, and one that must count builds it off its loop while other requests go on.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from ccm_tui import tokens
from tests.conftest import anthropic_config

LONG_TEXT = "hello world " * 3400  # ~6.8k tokens in ~40 KB: size alone cannot place it around 5,000


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each vocabulary build from now on, by the name of the thread that ran it (the real
    encodings are reused, so the counts stay exact)."""
    built = {name: tokens.get_encoding(name) for name in ("cl100k_base",)}
    threads: list[str] = []

    def build(name: str):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return built[name]

    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_build", build)
    return threads


def _post(server, path: str, body: dict) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"x-api-key": server.token.reveal(), "anthropic-version": "2023-06-01"}
    return httpx.post(server.base_url + path, json=body, headers=headers, timeout=30)


def _body(text: str, **extra: object) -> dict:
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": text}], **extra}


def test_a_proxy_that_never_counts_never_builds(fake_anthropic, start_proxy, builds) -> None:  # type: ignore[no-untyped-def]
    server = start_proxy(anthropic_config(fake_anthropic.base_url))
    for _ in range(3):
        assert _post(server, "/v1/messages", _body("hi")).status_code == 200
    assert builds == []


def test_count_tokens_builds_off_the_loop_once(fake_anthropic, start_proxy, builds) -> None:  # type: ignore[no-untyped-def]
    server = start_proxy(anthropic_config(fake_anthropic.base_url))
    assert builds == []
    answers = [_post(server, "/v1/messages/count_tokens", _body(LONG_TEXT)) for _ in range(2)]
    expected = tokens.count_request_tokens(_body(LONG_TEXT))
    assert [a.json() for a in answers] == [{"input_tokens": expected}] * 2
    assert len(builds) == 1 and builds[0] != "ccm-proxy"


def test_routing_that_must_count_builds_off_the_loop(fake_anthropic, start_proxy, builds) -> None:  # type: ignore[no-untyped-def]
    extra = 'long_context = "anthropic,claude-haiku-4-5"\nlong_context_threshold = 5000\n'
    server = start_proxy(anthropic_config(fake_anthropic.base_url, extra))
    assert builds == []
    answer = _post(server, "/v1/messages", _body(LONG_TEXT))
    assert answer.status_code == 200
    assert answer.headers["x-ccm-route"] == "anthropic,claude-haiku-4-5"  # counted: above 5,000
    assert len(builds) == 1 and builds[0] != "ccm-proxy"


def test_a_budget_estimate_builds_off_the_loop(fake_anthropic, start_proxy, builds) -> None:  # type: ignore[no-untyped-def]
    server = start_proxy(anthropic_config(fake_anthropic.base_url, "\n[budget]\nmax_tokens = 1000000\n"))
    assert builds == []
    assert _post(server, "/v1/messages", _body("hi")).status_code == 200
    assert len(builds) == 1 and builds[0] != "ccm-proxy"
