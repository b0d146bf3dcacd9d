"""Google Gemini, native API (``type = "gemini"``): generateContent / streamGenerateContent?alt=sse.

The key travels in the ``x-goog-api-key`` header, never in the URL (URLs end up in flow records
and logs). ``options`` of the provider config understood here: ``thinking`` (bool, overrides the
per-model guess), ``max_thinking_budget``, ``schema_mode = "json_schema"`` (send tool schemas as
``parametersJsonSchema`` unchanged, Gemini 2.5+ only), ``safety_settings`` (list, passed through).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ...errors import InvalidRequest, ProxyError, UpstreamUnavailable
from ...flow import Flow
from ...limits import provider_limits
from ..base import Provider, UpstreamResponse
from ..toolcheck import ToolCheck
from .request import DEFAULT_MAX_OUTPUT, build_request
from .response import parse_gemini_error, translate_response
from .stream import GeminiStreamTranslator

__all__ = ["GeminiProvider", "GeminiStreamTranslator", "build_request", "translate_response"]


_NAME_PREFIXES = ("models/", "tunedModels/")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class GeminiProvider(Provider):
    def url(self, model: str, *, stream: bool) -> str:
        """The model is a path segment: anything that could leave it (``/``, ``..``, ``?``, ``#``,
        spaces, ``:``) is a 400, never a request to another path of the upstream."""
        base = self.config.base_url.rstrip("/")
        if not base.endswith(("/v1beta", "/v1", "/v1alpha")):
            base += "/v1beta"
        prefix = next((p for p in _NAME_PREFIXES if model.startswith(p)), "models/")
        bare = model.removeprefix(prefix)
        if not _MODEL_ID.match(bare) or ".." in bare:
            raise InvalidRequest(f"model: {model[:80]!r} is not a Gemini model name (letters, digits, '.', '-', '_')")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base}/{prefix}{bare}:{action}"

    def upstream_headers(self) -> dict[str, str]:
        headers = {name: secret.reveal() for name, secret in self.config.headers.items()}
        if self.config.api_key:
            headers["x-goog-api-key"] = self.config.api_key.reveal()
        headers["content-type"] = "application/json"
        return headers

    def max_output(self, model: str) -> int:
        """Provider cap, configured and built-in limits (the smallest), else Gemini's usual 65536."""
        return provider_limits(self.config, model).max_output_tokens or DEFAULT_MAX_OUTPUT

    async def messages(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> UpstreamResponse:
        model = str(body.get("model") or "")
        shown_model = flow.requested_model or model
        request = build_request(body, model, max_output=self.max_output(model), options=self.config.options)
        for note in request.notes:
            flow.note(note)
        stream = body.get("stream") is True
        check = ToolCheck.for_flow(flow, body, self.name, model)
        response = await self.send(flow, self.url(model, stream=stream), request.payload, self.upstream_headers())
        if stream:
            translator = GeminiStreamTranslator(shown_model, request.names, grounding=request.grounding,
                                                input_tokens=flow.estimated_input_tokens or 0, check=check)
            return UpstreamResponse(stream=self.translate_stream(flow, response, translator, check=check))
        data = await self.read_json(response)
        if "error" in data and "candidates" not in data:
            raise self.parse_error(response.status_code, json.dumps(data).encode(), response.headers)
        blocked = bool((data.get("promptFeedback") or {}).get("blockReason"))
        if not data.get("candidates") and not blocked:  # a blocked prompt is an answer; `{}` is not
            raise UpstreamUnavailable(f"provider {self.name!r} answered 200 without candidates")
        message = translate_response(data, shown_model, request.names, grounding=request.grounding)
        check.check_message(message)
        return UpstreamResponse(body=message)

    def parse_error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProxyError:
        return parse_gemini_error(self.name, status, raw, headers)
