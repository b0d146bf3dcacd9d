"""``ccm-tui doctor [--config P] [--route NAME] [--json]``: does each route work with Claude Code?

For every configured route (or the one named), a proxy of its own is started on 127.0.0.1 with
the session pinned to that route's target and no fallbacks (a fallback would hide the failure),
and a canned set of small Claude Code-shaped requests goes through the whole pipeline: plain
stream, non-stream, one tool call, two parallel tool results sent back out of order, a thinking
round trip, an image, count_tokens, and web search on the ``web_search`` route. Each cell is
``ok``, ``fail`` (with the error the client would see), ``unsupported`` (the model has no such
capability: no vision, no thinking returned) or ``-`` (not tested on this route).
Exit 0 when nothing failed, 1 when something did, 2 for config or argument errors.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import Config, ConfigError, load_config, parse_target
from ..limits import limits_for
from ..secrets import PROXY_TOKEN_HEADER
from ..sse import SSEDecoder

CAPABILITIES = ("stream", "non-stream", "tool", "parallel", "thinking", "image", "count_tokens", "web_search")
MAX_TOKENS = 64
TIMEOUT_S = 120.0
SYSTEM = [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude. Answer in one word."}]
BASH = {"name": "Bash", "description": "Run a shell command.", "input_schema": {
    "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
    "properties": {"command": {"type": "string", "description": "The command to run"}},
    "required": ["command"], "additionalProperties": False}}
HEADERS = {"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
           "x-app": "cli", "user-agent": "ccm-tui-doctor"}
# 1x1 red PNG
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cf"
    "c0000003010100c9fe92ef0000000049454e44ae426082")).decode()


@dataclass(slots=True)
class Outcome:
    status: str  # ok | fail | unsupported | -
    detail: str = ""


class Failed(Exception):
    """A probe's answer was an error or not what Claude Code needs."""


def _user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def _body(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": MAX_TOKENS, "system": SYSTEM, "messages": messages,
            "metadata": {"user_id": "ccm-tui-doctor"}, **extra}


class Probe:
    """Sends one route's requests to its pinned proxy and judges the answers."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(self, body: dict[str, Any], path: str = "/v1/messages?beta=true") -> dict[str, Any]:
        """The answer as a message (a stream is assembled); raises Failed with the client's error."""
        response = self.client.post(path, json=body)
        if response.status_code != 200:
            raise Failed(_error_text(response.content) or f"HTTP {response.status_code}")
        if not body.get("stream"):
            return response.json()
        return _assemble(response.content)

    def stream(self) -> Outcome:
        message = self.send(_body([_user("Say hi.")], stream=True))
        return _has(message, "text")

    def non_stream(self) -> Outcome:
        return _has(self.send(_body([_user("Say hi.")])), "text")

    def tool(self) -> Outcome:
        body = _body([_user("Run `echo hi` with the Bash tool.")], tools=[BASH], stream=True,
                     tool_choice={"type": "any"})
        message = self.send(body)
        calls = [b for b in message["content"] if b["type"] == "tool_use"]
        if not calls:
            raise Failed(f"no tool call (stop_reason {message.get('stop_reason')})")
        if not isinstance(calls[0].get("input"), dict) or message.get("stop_reason") != "tool_use":
            raise Failed(f"tool call not usable: input {calls[0].get('input')!r}, "
                         f"stop_reason {message.get('stop_reason')}")
        return Outcome("ok")

    def parallel(self) -> Outcome:
        """Two calls; results sent back in the order the tools finished (the second first)."""
        calls = [{"type": "tool_use", "id": "toolu_doctor_slow", "name": "Bash",
                  "input": {"command": "sleep 1 && echo slow-A"}},
                 {"type": "tool_use", "id": "toolu_doctor_fast", "name": "Bash", "input": {"command": "echo fast-B"}}]
        results = [{"type": "tool_result", "tool_use_id": "toolu_doctor_fast", "content": "fast-B"},
                   {"type": "tool_result", "tool_use_id": "toolu_doctor_slow", "content": "slow-A"}]
        messages = [_user("Run both commands."), {"role": "assistant", "content": calls}, _user(results)]
        return _has(self.send(_body(messages, tools=[BASH], stream=True)), None)

    def thinking(self) -> Outcome:
        thinking = {"type": "enabled", "budget_tokens": 1024}
        ask = [_user("What is 2+3? Think first.")]
        first = self.send(_body(ask, thinking=thinking, max_tokens=1024 + MAX_TOKENS, stream=True))
        if not any(b["type"] == "thinking" for b in first["content"]):
            return Outcome("unsupported", "no thinking in the answer")
        history = [*ask, {"role": "assistant", "content": first["content"]}, _user("And 3+4?")]
        self.send(_body(history, thinking=thinking, max_tokens=1024 + MAX_TOKENS, stream=True))
        return Outcome("ok")

    def image(self) -> Outcome:
        content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                   {"type": "text", "text": "What colour is this pixel?"}]
        return _has(self.send(_body([_user(content)], stream=True)), None)

    def count_tokens(self) -> Outcome:
        body = {"model": "claude-sonnet-4-5", "system": SYSTEM, "tools": [BASH], "messages": [_user("Say hi.")]}
        answer = self.send(body, "/v1/messages/count_tokens?beta=true")
        if not isinstance(answer.get("input_tokens"), int) or answer["input_tokens"] <= 0:
            raise Failed(f"no token count: {answer!r}")
        return Outcome("ok")

    def web_search(self) -> Outcome:
        body = _body([_user([{"type": "text", "text": "Perform a web search for the query: python release"}])],
                     tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
                     tool_choice={"type": "tool", "name": "web_search"}, stream=True)
        message = self.send(body)
        if not any(b["type"] == "web_search_tool_result" for b in message["content"]):
            raise Failed("no web_search_tool_result in the answer")
        return Outcome("ok")


def _has(message: dict[str, Any], kind: str | None) -> Outcome:
    if message.get("type") != "message" or not message.get("stop_reason"):
        raise Failed(f"not a complete message: {json.dumps(message)[:200]}")
    if kind and not any(b["type"] == kind for b in message.get("content") or []):
        raise Failed(f"no {kind} block in the answer (stop_reason {message.get('stop_reason')})")
    return Outcome("ok")


def _assemble(raw: bytes) -> dict[str, Any]:
    """An Anthropic SSE answer → the message a client would hold; an ``error`` event raises Failed."""
    decoder = SSEDecoder()
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for frame in [*decoder.feed(raw), *decoder.close()]:
        data = json.loads(frame.data)
        kind = data.get("type")
        if frame.event != kind:
            raise Failed(f"SSE frame event {frame.event!r} does not match its type {kind!r}")
        if kind == "error":
            raise Failed(str((data.get("error") or {}).get("message") or data))
        if kind == "message_start":
            message = dict(data["message"])
        elif kind == "content_block_start":
            message["content"].append(dict(data["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif kind == "message_delta":
            message.update(data.get("delta") or {})
        elif kind == "message_stop":
            message["complete"] = True
    if not message.get("complete"):
        raise Failed("stream ended without message_stop")
    for index, text in partial.items():
        try:
            message["content"][index]["input"] = json.loads(text) if text.strip() else {}
        except ValueError:
            raise Failed(f"tool input is not JSON: {text[:120]!r}") from None
    return message


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:300]
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("message") if isinstance(error, dict) else data)[:300]


def check_route(config: Config, route: str, target: str) -> dict[str, Outcome]:
    """Every capability of one route, through a proxy pinned to its target (no fallbacks)."""
    from ..proxy.server import ProxyServer

    provider, model = parse_target(target)
    pinned = dataclasses.replace(config, pinned=target,
                                 router=dataclasses.replace(config.router, fallback=[], fallbacks={}))
    server = ProxyServer(pinned, host="127.0.0.1", port=0)
    server.start_in_thread()
    outcomes: dict[str, Outcome] = {}
    try:
        headers = {**HEADERS, PROXY_TOKEN_HEADER: server.token.reveal()}  # accepted whatever the auth mode
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=TIMEOUT_S) as client:
            probe = Probe(client)
            checks: dict[str, Callable[[], Outcome]] = {
                "stream": probe.stream, "non-stream": probe.non_stream, "tool": probe.tool,
                "parallel": probe.parallel, "thinking": probe.thinking, "image": probe.image,
                "count_tokens": probe.count_tokens, "web_search": probe.web_search,
            }
            for capability in CAPABILITIES:
                if capability == "web_search" and route != "web_search":
                    outcomes[capability] = Outcome("-")
                elif capability == "image" and not limits_for(config, provider, model).vision:
                    outcomes[capability] = Outcome("unsupported", "text-only model (vision = false)")
                else:
                    outcome = _run(checks[capability])
                    outcomes[capability] = Outcome(outcome.status, server.redactor.text(outcome.detail))
    finally:
        server.stop()
    return outcomes


def _run(check: Callable[[], Outcome]) -> Outcome:
    try:
        return check()
    except Failed as exc:
        return Outcome("fail", str(exc))
    except httpx.HTTPError as exc:
        return Outcome("fail", f"{type(exc).__name__}: {exc}")
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        return Outcome("fail", f"malformed answer ({type(exc).__name__}: {exc})")


def _table(results: list[tuple[str, str, dict[str, Outcome]]]) -> str:
    header = ["route", "target", *CAPABILITIES]
    rows = [[route, target, *(outcomes[c].status for c in CAPABILITIES)] for route, target, outcomes in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    details = [f"{route} {c}: {o.status}: {o.detail}" for route, _, outcomes in results
               for c, o in outcomes.items() if o.detail]
    return "\n".join(lines + ([""] + details if details else []))


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("ccm-tui doctor: invalid config:", *exc.problems, sep="\n  ", file=sys.stderr)
        return 2
    routes = dict(config.router.routes)
    if args.route:
        if args.route not in routes:
            known = ", ".join(routes) or "none"
            print(f"ccm-tui doctor: no route {args.route!r} in the config (configured: {known})", file=sys.stderr)
            return 2
        routes = {args.route: routes[args.route]}
    if not routes:
        print("ccm-tui doctor: the config has no routes to check", file=sys.stderr)
        return 2
    results = [(route, target, check_route(config, route, target)) for route, target in routes.items()]
    failed = any(o.status == "fail" for _, _, outcomes in results for o in outcomes.values())
    if args.json:
        print(json.dumps({"ok": not failed, "routes": [
            {"route": route, "target": target,
             "results": {c: dataclasses.asdict(o) for c, o in outcomes.items()}}
            for route, target, outcomes in results]}, ensure_ascii=False))
    else:
        print(_table(results))
    return 1 if failed else 0
