"""``api = "responses"``: one Anthropic request through OpenAI's ``POST /v1/responses``.

The translation lives in responses_request / responses_response / responses_stream; this is the
I/O around it, on the same provider object (keys, headers, limits, error mapping) as the Chat path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import UpstreamUnavailable
from ...flow import Flow
from ...limits import provider_limits
from ..base import UpstreamResponse
from ..toolcheck import ToolCheck
from .caching import session_key
from .responses_request import translate_responses_request
from .responses_response import refused_in, repaired_calls, responses_error, translate_responses_response
from .responses_stream import ResponsesStreamTranslator
from .websearch import SearchStream, search_message

if TYPE_CHECKING:
    from . import OpenAIProvider


def responses_url(base: str) -> str:
    base = base.rstrip("/").removesuffix("/chat/completions")
    return base if base.endswith("/responses") else base + "/responses"


async def responses_messages(
    provider: OpenAIProvider, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]
) -> UpstreamResponse:
    model = str(body.get("model") or "")
    requested = flow.requested_model or model
    cap = provider_limits(provider.config, model).max_output_tokens
    session = session_key(body, headers.get("x-claude-code-session-id") or flow.session_id)
    translated = translate_responses_request(body, provider.preset, max_output_tokens=cap, session=session,
                                             note=flow.note)
    stream = bool(body.get("stream"))
    check = ToolCheck.for_flow(flow, body, provider.name, model)
    response = await provider.send(flow, provider.responses_url, translated.payload, provider.upstream_headers())
    query = translated.search_query
    if stream and "text/event-stream" in response.headers.get("content-type", ""):
        estimate = flow.estimated_input_tokens or (flow.decision.estimated_tokens if flow.decision else None)
        translator = ResponsesStreamTranslator(
            requested, names=translated.names, input_tokens=estimate or 0, provider=provider.name, note=flow.note,
            search=SearchStream(query) if query is not None else None, check=check,
        )
        return UpstreamResponse(stream=provider.translate_stream(flow, response, translator, check=check))
    if stream:
        flow.note("upstream ignored stream: true; its JSON answer is replayed as a stream")
    data = await provider.read_json(response)
    if data.get("status") == "failed" or (data.get("error") and not data.get("output")):
        raise responses_error(data.get("error"), provider.name)
    if not isinstance(data.get("output"), list):
        raise UpstreamUnavailable(f"provider {provider.name!r} answered 200 without output")
    message, cited, ran = translate_responses_response(data, model=requested, names=translated.names)
    if query is not None:
        search_message(message, cited, ran or query)
    return provider.json_answer(flow, message, check, refused=bool(refused_in(data)), repaired=repaired_calls(data),
                                stream=stream)
