"""Turn an upstream's HTTP error answer into the error class that says why it failed."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from pavedroad.core.errors import (
    ContextWindowExceeded,
    UpstreamAuthError,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)

_SECRETISH = re.compile(r"(sk|pk|rk|key|token)[-_][A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)
_CONTEXT_HINTS = ("context_length", "context length", "maximum context", "too many tokens",
                  "prompt is too long")


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (delta-seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def upstream_message(body: bytes) -> str:
    """The upstream's own error message, with anything that looks like a credential cut."""
    text = ""
    try:
        data: Any = orjson.loads(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            text = str(error.get("message") or error.get("type") or "")
        elif isinstance(error, str):
            text = error
        elif isinstance(data, dict) and "message" in data:
            text = str(data["message"])
    except (orjson.JSONDecodeError, TypeError):
        text = body[:200].decode("utf-8", errors="replace")
    return _SECRETISH.sub("[redacted]", text)[:500]


def error_for_status(
    status: int, headers: Mapping[str, str], body: bytes, *, deployment: str
) -> UpstreamError:
    detail = upstream_message(body)
    where = f"deployment {deployment!r} answered HTTP {status}"
    message = f"{where}: {detail}" if detail else where
    if status == 429:
        return UpstreamRateLimited(message, status=status,
                                   retry_after=retry_after_seconds(headers))
    if status in (401, 403):
        # Never echo the upstream's words here: they may quote part of our key.
        return UpstreamAuthError(f"{where}: the provider refused the gateway's credentials",
                                 status=status)
    if status in (408, 504):
        return UpstreamTimeout(message, status=status)
    if status in (503, 529):
        return UpstreamOverloaded(message, status=status,
                                  retry_after=retry_after_seconds(headers))
    if status in (400, 413, 422):
        lowered = detail.lower()
        if any(hint in lowered for hint in _CONTEXT_HINTS):
            return ContextWindowExceeded(message, status=status)
        return UpstreamRejected(message, status=status)
    return UpstreamError(message, status=status)
