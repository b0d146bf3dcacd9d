"""``GET /ccm/status``: what the statusline shows for one claude session, and ``/v1/models``.

A small bounded summary per session is fed from the bus: the target that answered the latest
main-thread turn, its context size against the target's window, spend and cache share over the
whole session (subagents included). Nothing in it is secret: no key, token, header or body.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from quart import Quart, Response, request

from ..claude_launch import default_target
from ..config import Config, parse_target
from ..events import FlowEvent
from ..flow import Flow
from ..limits import limits_for, request_window
from ..model_ids import alias
from ..sessions import UNKNOWN_SESSION
from ..stats import cache_hit_rate

MAX_SESSIONS = 256  # least recently active dropped first
MAX_SESSION_ID = 200


@dataclass(slots=True)
class SessionSummary:
    requests: int = 0
    cost_usd: float = 0.0
    cache_read_tokens: int = 0
    other_input_tokens: int = 0  # uncached input and cache writes
    route: str | None = None  # of the latest main-thread turn (utility requests aside)
    target: str | None = None
    context_tokens: int | None = None
    beta: str = ""  # the latest main turn's anthropic-beta (claude asks for the 1M window there)
    requested: str | None = None  # the model that turn asked for (the 1M window is that model's)
    updated: float = 0.0


class SessionSummaries:
    """Bus subscriber (proxy thread) and reader (status endpoint); the lock keeps both consistent."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._limit = limit
        self._sessions: OrderedDict[str, SessionSummary] = OrderedDict()
        self._lock = threading.Lock()

    def on_event(self, event: FlowEvent, flow: Flow) -> None:
        if flow.kind != "messages" or event not in (FlowEvent.ROUTED, FlowEvent.FINISHED, FlowEvent.FAILED):
            return
        key = flow.session_id or UNKNOWN_SESSION
        with self._lock:
            summary = self._sessions.get(key)
            if summary is None:
                summary = self._sessions[key] = SessionSummary()
                while len(self._sessions) > self._limit:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(key)
            summary.updated = time.time()
            # Titles and other utility requests (route "background") do not stand for the conversation.
            main_turn = flow.agent_id is None and flow.route not in (None, "background")
            if main_turn or summary.target is None:
                summary.route, summary.target = flow.route, flow.target
                summary.beta = next((v for k, v in flow.request_headers.items() if k.lower() == "anthropic-beta"), "")
                summary.requested = flow.requested_model
            if event is FlowEvent.ROUTED:
                return
            usage = flow.usage
            summary.requests += 1
            summary.cost_usd += flow.cost_usd or 0.0
            summary.cache_read_tokens += usage.cache_read_input_tokens
            summary.other_input_tokens += usage.input_tokens + usage.cache_creation_input_tokens
            seen = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
            if main_turn and event is FlowEvent.FINISHED and seen:
                summary.context_tokens = seen + usage.output_tokens

    def get(self, session_id: str) -> SessionSummary | None:
        with self._lock:
            found = self._sessions.get(session_id)
            return None if found is None else SessionSummary(**{k: getattr(found, k) for k in found.__slots__})


def _window(config: Config, target: str | None, beta: str = "", requested: str | None = None) -> int | None:
    if not target:
        return None
    try:
        return request_window(config, *parse_target(target), {"anthropic-beta": beta}, requested)
    except ValueError:
        return None


def status_body(config: Config, summaries: SessionSummaries, session_id: str) -> dict[str, Any]:
    summary = summaries.get(session_id) if session_id else None
    default = default_target(config)
    target = f"{default[0]},{default[1]}" if default else None
    body: dict[str, Any] = {
        "session_id": session_id or None,
        "pinned": config.pinned,
        "default_target": target,
        "default_window": _window(config, target),
        "seen": summary is not None,
    }
    if summary is not None:
        body.update(
            route=summary.route, target=summary.target, requests=summary.requests,
            cost_usd=round(summary.cost_usd, 6),
            cache_hit_rate=cache_hit_rate(summary.cache_read_tokens, summary.other_input_tokens),
            context_tokens=summary.context_tokens, context_window=_window(config, summary.target, summary.beta, summary.requested),
        )
    return body


def models_body(config: Config) -> dict[str, Any]:
    """Anthropic's ``GET /v1/models`` shape, one entry per configured ``provider,model``."""
    data = []
    for provider, model in config.all_models():
        window = limits_for(config, provider, model).context_window
        size = f" · {window // 1000}k context" if window else ""
        data.append({"type": "model", "id": alias(provider, model), "display_name": f"{provider},{model}",
                     "description": f"via ccm-tui{size}", "created_at": "1970-01-01T00:00:00Z"})
    return {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


def register(app: Quart, config_of: Any, summaries: SessionSummaries) -> None:
    """Add the routes; ``config_of()`` gives the config now (it may be swapped on reload)."""
    from .pipeline import json_response  # pipeline imports the state, which holds the summaries

    @app.get("/ccm/status")
    async def status() -> Response:
        session_id = request.args.get("session_id", "")[:MAX_SESSION_ID]
        return json_response(status_body(config_of(), summaries, session_id))

    @app.get("/v1/models")
    async def models() -> Response:
        return json_response(models_body(config_of()))
