"""Provider ``type = "openai"``: OpenAI Chat Completions and every server that speaks it, or the
Responses API with ``api = "responses"`` (responses.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ...config import ProviderConfig
from ...errors import ProxyError, UpstreamUnavailable
from ...flow import Flow
from ...limits import provider_limits
from ...sse import encode_event
from ..base import Provider, UpstreamResponse, record_event
from ..blocks import message_events
from ..toolcheck import ToolCheck
from .caching import session_key
from .presets import PRESETS, Preset, get_preset
from .request import Limits, translate_request
from .response import REFUSAL_NOTE, error_from_openai, refusal_of, repaired_calls, translate_response
from .responses import responses_messages, responses_url
from .stream import OpenAIStreamTranslator
from .websearch import SearchStream, plan_web_search, search_message, url_citations

__all__ = ["OpenAIProvider", "PRESETS", "Preset", "get_preset"]


class OpenAIProvider(Provider):
    def __init__(self, config: ProviderConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.preset = get_preset(config.preset, config.options)
        base = (config.base_url or self.preset.base_url).rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.api = config.api or self.preset.api
        if self.api == "responses" and config.preset is None:  # OpenAI's Responses quirks, any base_url
            self.preset = get_preset("openai-responses", config.options)
        self.responses_url = responses_url(base)

    def upstream_headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        headers.update(dict(self.preset.extra_headers))
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key.reveal()}"
        for name, value in self.config.headers.items():
            headers[name] = value.reveal() if hasattr(value, "reveal") else str(value)
        return headers

    def parse_error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProxyError:
        return error_from_openai(status, raw, headers, self.name)

    async def messages(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> UpstreamResponse:
        if self.api == "responses":
            return await responses_messages(self, flow, body, headers)
        model = str(body.get("model") or "")
        requested = flow.requested_model or model
        cap = provider_limits(self.config, model).max_output_tokens  # max_tokens_cap folded in
        search = plan_web_search(body, self.preset, self.name, model)
        translated = translate_request(
            body, self.preset, limits=Limits(max_output_tokens=cap), note=flow.note, search=search,
            session=session_key(body, headers.get("x-claude-code-session-id") or flow.session_id),
        )
        stream = bool(body.get("stream"))
        check = ToolCheck.for_flow(flow, body, self.name, model)
        response = await self.send(flow, self.url, translated.payload, self.upstream_headers())
        is_sse = "text/event-stream" in response.headers.get("content-type", "")
        if stream and is_sse:
            estimate = flow.estimated_input_tokens or (flow.decision.estimated_tokens if flow.decision else None)
            translator = OpenAIStreamTranslator(
                requested, names=translated.names, stop_sequences=translated.stop_sequences,
                input_tokens=estimate or 0, note=flow.note, think_tags=self.preset.think_tags,
                search=SearchStream(search.query) if search else None, check=check,
            )
            return UpstreamResponse(stream=self.translate_stream(flow, response, translator, check=check))
        if stream:
            flow.note("upstream ignored stream: true; its JSON answer is replayed as a stream")
        data = await self.read_json(response)
        choices = data.get("choices")
        if data.get("error") and not choices:
            err = data["error"]
            code = err.get("code") if isinstance(err, dict) else None
            status = code if isinstance(code, int) and 400 <= code < 600 else 502
            raise self.parse_error(status, json.dumps(data).encode(), response.headers)
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise UpstreamUnavailable(f"provider {self.name!r} answered 200 without choices")
        message = translate_response(
            data, model=requested, names=translated.names, stop_sequences=translated.stop_sequences,
            think_tags=self.preset.think_tags,
        )
        if search is not None:
            choices = data.get("choices") or [{}]
            answer = choices[0].get("message") if isinstance(choices[0], dict) else None
            search_message(message, url_citations(answer if isinstance(answer, dict) else {}), search.query)
        return self.json_answer(flow, message, check, refused=bool(refusal_of(data)),
                                repaired=repaired_calls(data), stream=stream)

    def json_answer(self, flow: Flow, message: dict[str, Any], check: ToolCheck, *, refused: bool, repaired: int,
                    stream: bool) -> UpstreamResponse:
        """A translated JSON answer (either API): tool calls checked, notes taken, and replayed as a
        stream when the client asked for one."""
        check.check_message(message)
        if refused:
            flow.note(REFUSAL_NOTE)
        if repaired:
            flow.note(f"repaired invalid JSON arguments of {repaired} tool call(s)")
        return UpstreamResponse(stream=_replay(flow, message)) if stream else UpstreamResponse(body=message)


async def _replay(flow: Flow, message: dict[str, Any]) -> AsyncIterator[bytes]:
    out = []
    for event_type, data in message_events(message):
        record_event(flow, event_type, data)
        out.append(encode_event(event_type, data))
    yield b"".join(out)
