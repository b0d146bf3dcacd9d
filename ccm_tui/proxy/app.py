"""The Quart app: Anthropic Messages API endpoints, auth, and the one error shape."""

from __future__ import annotations

import logging
import time

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException

from ..errors import AuthenticationFailed, NotFound, ProxyError, RequestTooLarge
from . import status
from .pipeline import handle_count_tokens, handle_messages, json_response
from .state import ProxyState

log = logging.getLogger(__name__)
_OPEN_PATHS = {"/", "/health", "/api/hello"}


def error_response(err: ProxyError) -> Response:
    response = json_response(err.body(), err.status)
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def create_app(state: ProxyState) -> Quart:
    app = Quart("ccm_tui.proxy")
    app.config.update(
        RESPONSE_TIMEOUT=None,  # streams last as long as the model writes
        BODY_TIMEOUT=120,
        MAX_CONTENT_LENGTH=state.config.server.max_body_bytes,
        PROVIDE_AUTOMATIC_OPTIONS=False,
    )
    app.logger.handlers.clear()  # Quart's default handler writes to stderr, over the TUI
    app.logger.propagate = True
    started = time.time()

    @app.before_request
    async def check_auth() -> Response | None:
        if request.path in _OPEN_PATHS:
            return None
        if not state.authorized(request.headers):
            where = ("x-ccm-token (claude: in ANTHROPIC_CUSTOM_HEADERS; a provider uses claude's own login)"
                     if state.config.client_auth_provider() else "x-api-key or Authorization: Bearer")
            return error_response(AuthenticationFailed(f"invalid or missing proxy token: send it as {where}"))
        return None

    @app.route("/", methods=["GET", "HEAD"])
    @app.route("/api/hello", methods=["GET", "HEAD"])
    async def probe() -> Response:
        return Response("", 200)

    @app.get("/health")
    async def health() -> Response:
        return json_response({"status": "ok", "uptime_s": round(time.time() - started, 1)})

    status.register(app, lambda: state.config, state.summaries)

    @app.post("/v1/messages")
    async def messages() -> Response:
        return await handle_messages(state, request)

    @app.post("/v1/messages/count_tokens")
    async def count_tokens() -> Response:
        return await handle_count_tokens(state, request)

    @app.errorhandler(ProxyError)
    async def on_proxy_error(err: ProxyError) -> Response:
        err.message = state.redactor.text(err.message)  # an upstream may quote a key back
        return error_response(err)

    @app.errorhandler(HTTPException)
    async def on_http_error(err: HTTPException) -> Response:
        if err.code == 404:
            return error_response(NotFound(f"no such endpoint: {request.method} {request.path}"))
        if err.code == 405:
            return error_response(ProxyError(f"method {request.method} not allowed on {request.path}",
                                             status=405, error_type="invalid_request_error"))
        if err.code == 413:
            limit = state.config.server.max_body_bytes
            return error_response(RequestTooLarge(f"request body exceeds the limit of {limit} bytes"))
        return error_response(ProxyError(err.description or "error", status=err.code or 500,
                                         error_type="invalid_request_error" if (err.code or 500) < 500 else "api_error"))

    @app.errorhandler(Exception)
    async def on_unexpected(err: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(ProxyError(f"internal proxy error: {type(err).__name__}"))

    return app
