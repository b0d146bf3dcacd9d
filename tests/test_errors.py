"""Upstream statuses and error types map onto the Anthropic error the client sees; which ones are retried."""

from __future__ import annotations

import pytest

from ccm_tui.errors import (
    BudgetExceeded,
    InvalidRequest,
    Overloaded,
    ProxyError,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_for_status,
    error_for_type,
    is_retryable,
)


@pytest.mark.parametrize(("upstream", "status", "error_type", "retryable"), [
    (400, 400, "invalid_request_error", False),
    (401, 401, "authentication_error", False),
    (402, 402, "billing_error", False),
    (408, 504, "timeout_error", True),
    (418, 400, "invalid_request_error", False),  # any other 4xx is the client's fault
    (422, 400, "invalid_request_error", False),
    (429, 429, "rate_limit_error", True),
    (500, 500, "api_error", True),
    (502, 500, "api_error", True),
    (503, 529, "overloaded_error", True),
    (529, 529, "overloaded_error", True),
    (302, 502, "api_error", True),  # a redirect is not followed: the upstream answered nonsense
])
def test_error_for_status(upstream: int, status: int, error_type: str, retryable: bool) -> None:
    err = error_for_status(upstream, "m", {"Retry-After": "3", "x-secret": "no"})
    assert (err.status, err.error_type, is_retryable(err)) == (status, error_type, retryable)
    assert err.headers == {"Retry-After": "3"}, "only retry-after is carried over"
    assert err.body() == {"type": "error", "error": {"type": error_type, "message": "m"}}


def test_error_for_type_and_unknown() -> None:
    assert type(error_for_type("overloaded_error", "x")) is Overloaded
    assert type(error_for_type("rate_limit_error", "x")) is RateLimited
    assert type(error_for_type("something_new", "x")) is ProxyError


@pytest.mark.parametrize(("err", "retryable"), [
    (BudgetExceeded("spent"), False),  # a 429 of our own: retrying cannot help
    (InvalidRequest("bad"), False),
    (UpstreamUnavailable("down"), True),
    (UpstreamTimeout("slow"), True),
])
def test_is_retryable(err: ProxyError, retryable: bool) -> None:
    assert is_retryable(err) is retryable


def test_budget_exceeded_tells_sdks_not_to_retry() -> None:
    err = BudgetExceeded("spent")
    assert (err.status, err.error_type, err.headers) == (429, "rate_limit_error", {"x-should-retry": "false"})
