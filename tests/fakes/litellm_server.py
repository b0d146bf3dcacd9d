"""A fake LiteLLM proxy: its Anthropic-compatible ``/v1/messages`` and ``/v1/messages/count_tokens``.

``/v1/messages`` is the fake Anthropic upstream's (scripted with :class:`Reply`). With a
``master_key``, like ``litellm --config`` with ``general_settings.master_key``, every request must
carry it as ``Authorization: Bearer`` (or ``x-api-key``), else 401 in LiteLLM's error shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quart import Quart, Response, request

from tests.fakes.anthropic_server import FakeAnthropic, Reply

__all__ = ["CountReply", "FakeLiteLLM", "Reply"]


@dataclass
class CountReply:
    status: int = 200
    body: Any = None  # default: {"input_tokens": input_tokens}
    input_tokens: int = 4242


class FakeLiteLLM(FakeAnthropic):
    def __init__(self, master_key: str | None = None) -> None:
        self.master_key = master_key
        self.count_requests: list[dict[str, Any]] = []
        self.count_reply = CountReply()
        self.rejected: list[dict[str, str]] = []  # headers of requests refused for a bad key
        super().__init__()

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.master_key is None:
            return True
        bearer = headers.get("authorization", "")
        return bearer == f"Bearer {self.master_key}" or headers.get("x-api-key") == self.master_key

    def _build(self) -> Quart:
        app = super()._build()

        @app.before_request
        async def check_key() -> Response | None:
            headers = {k.lower(): v for k, v in request.headers.items()}
            if request.method == "POST" and not self._authorized(headers):
                self.rejected.append(headers)
                body = {"error": {"message": "Authentication Error, Invalid proxy server token passed.",
                                  "type": "auth_error", "param": "None", "code": "401"}}
                return Response(json.dumps(body), 401, content_type="application/json")
            return None

        @app.post("/v1/messages/count_tokens")
        async def count_tokens() -> Response:
            body = await request.get_json(force=True)
            self.count_requests.append({"path": request.full_path, "body": body,
                                        "headers": {k.lower(): v for k, v in request.headers.items()}})
            reply = self.count_reply
            payload = reply.body if reply.body is not None else (
                {"input_tokens": reply.input_tokens} if reply.status == 200
                else {"error": {"message": "litellm.InternalServerError: no tokenizer", "code": str(reply.status)}})
            return Response(json.dumps(payload), reply.status, content_type="application/json")

        return app
