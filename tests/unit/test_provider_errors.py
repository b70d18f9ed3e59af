"""Upstream HTTP answers map to error classes that say why; secrets never leak."""

from __future__ import annotations

import pytest

from pavedroad.core.errors import (
    ContextWindowExceeded,
    UpstreamAuthError,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from pavedroad.providers.http_errors import error_for_status, retry_after_seconds


@pytest.mark.parametrize(("status", "cls", "retryable"), [
    (429, UpstreamRateLimited, True), (401, UpstreamAuthError, True),
    (403, UpstreamAuthError, True), (408, UpstreamTimeout, True), (504, UpstreamTimeout, True),
    (503, UpstreamOverloaded, True), (529, UpstreamOverloaded, True),
    (400, UpstreamRejected, False), (422, UpstreamRejected, False), (500, UpstreamError, True),
])
def test_status_classes(status: int, cls: type[UpstreamError], retryable: bool) -> None:
    error = error_for_status(status, {}, b'{"error": {"message": "nope"}}', deployment="d")
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status == status


def test_context_window_is_recognised() -> None:
    body = b'{"error": {"message": "This model\'s maximum context length is 8192 tokens"}}'
    error = error_for_status(400, {}, body, deployment="d")
    assert isinstance(error, ContextWindowExceeded)
    assert error.code == "context_length_exceeded"


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({}) is None
    dated = retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert dated == 0.0  # in the past


def test_rate_limit_carries_retry_after_header() -> None:
    error = error_for_status(429, {"retry-after": "7"}, b"{}", deployment="d")
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == 7.0
    assert error.headers() == {"retry-after": "7"}


def test_auth_errors_do_not_echo_the_upstream_message() -> None:
    body = b'{"error": {"message": "Incorrect API key provided: sk-abc123456789"}}'
    error = error_for_status(401, {}, body, deployment="d")
    assert "sk-abc" not in error.message
    assert "refused the gateway's credentials" in error.message


def test_credential_like_strings_are_cut_from_other_messages() -> None:
    body = b'{"error": {"message": "bad request for key sk-live-1234567890abcdef"}}'
    error = error_for_status(400, {}, body, deployment="d")
    assert "1234567890" not in error.message
    assert "[redacted]" in error.message


def test_non_json_error_body_is_quoted_briefly() -> None:
    error = error_for_status(502, {}, b"<html>bad gateway</html>" * 100, deployment="d")
    assert "bad gateway" in error.message
    assert len(error.message) < 700
