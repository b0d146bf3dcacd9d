"""The one error shape the client sees, and the small hierarchy that maps onto it.

Every failure leaves the proxy as an Anthropic error object
``{"type": "error", "error": {"type": ..., "message": ...}}`` with a matching HTTP status,
or as an ``event: error`` frame once a stream has begun.
"""

from __future__ import annotations

from collections.abc import Mapping


class ProxyError(Exception):
    """Base of every error that is turned into an Anthropic error response."""

    status: int = 500
    error_type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict:
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}


class InvalidRequest(ProxyError):
    status, error_type = 400, "invalid_request_error"


class AuthenticationFailed(ProxyError):
    status, error_type = 401, "authentication_error"


class ConfigurationError(AuthenticationFailed):
    """This proxy's configuration makes the request impossible (a provider without a key): no retry
    can fix it, so the client is told not to retry, and the dashboard shows it at once."""

    def __init__(self, message: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(message, **kwargs)
        self.headers.setdefault("x-should-retry", "false")


class BillingError(ProxyError):
    status, error_type = 402, "billing_error"


class PermissionDenied(ProxyError):
    status, error_type = 403, "permission_error"


class NotFound(ProxyError):
    status, error_type = 404, "not_found_error"


class RequestTooLarge(ProxyError):
    status, error_type = 413, "request_too_large"


class RateLimited(ProxyError):
    status, error_type = 429, "rate_limit_error"


class UpstreamUnavailable(ProxyError):
    """The provider could not be reached or answered with something unusable."""

    status, error_type = 502, "api_error"


class UpstreamTimeout(ProxyError):
    status, error_type = 504, "timeout_error"


class Overloaded(ProxyError):
    status, error_type = 529, "overloaded_error"


class BudgetExceeded(ProxyError):
    """The session spent what ``[budget]`` allows; a 429 so clients do not retry blindly at once."""

    status, error_type = 429, "rate_limit_error"

    def __init__(self, message: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(message, **kwargs)
        self.headers.setdefault("x-should-retry", "false")  # Anthropic SDKs honour it: no retry storm


_BY_STATUS: dict[int, type[ProxyError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: BillingError,
    403: PermissionDenied,
    404: NotFound,
    408: UpstreamTimeout,
    413: RequestTooLarge,
    422: InvalidRequest,
    429: RateLimited,
    503: Overloaded,
    504: UpstreamTimeout,
    529: Overloaded,
}


def error_for_status(status: int, message: str, headers: Mapping[str, str] | None = None) -> ProxyError:
    """Map an upstream HTTP status to the Anthropic error the client should see.

    ``retry-after`` is the only upstream header carried over (429/503/529 advice for the client).
    """
    kept = {k: v for k, v in (headers or {}).items() if k.lower() == "retry-after"}
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InvalidRequest if 400 <= status < 500 else ProxyError
    err = cls(message, headers=kept)
    if cls is ProxyError:
        err.status = 500 if status >= 500 else 502
    return err


_BY_TYPE: dict[str, type[ProxyError]] = {
    cls.error_type: cls
    for cls in (InvalidRequest, AuthenticationFailed, BillingError, PermissionDenied, NotFound, RequestTooLarge,
                RateLimited, UpstreamTimeout, Overloaded)
}


def error_for_type(error_type: str, message: str) -> ProxyError:
    """An Anthropic ``error.type`` (e.g. from an ``event: error`` frame) → the typed error."""
    cls = _BY_TYPE.get(error_type)
    return cls(message) if cls is not None else ProxyError(message)


def is_retryable(err: ProxyError) -> bool:
    """Worth another attempt (same or fallback target) if nothing reached the client yet.

    A plain ProxyError is an upstream 5xx. BudgetExceeded is a 429 but not a RateLimited: never retried.
    """
    return type(err) is ProxyError or isinstance(err, (RateLimited, UpstreamUnavailable, UpstreamTimeout, Overloaded))
