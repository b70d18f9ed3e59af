"""Error bodies in each provider's own shape, so clients' SDKs classify them correctly."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import orjson
from starlette.responses import Response

__all__ = ["Dialect", "Reject", "error_response", "retry_after_headers"]


class Reject(Exception):
    """Stop handling a request and answer with an error in the route's own dialect."""

    def __init__(
        self, status: int, message: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message or f"status {status}")
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class Dialect(Enum):
    """Which provider's wire conventions a route speaks."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"


_OPENAI_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", None),
    408: ("timeout", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}

_ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}

_DEFAULT_MESSAGES: dict[int, str] = {
    401: "Invalid API key (simulated).",
    429: "Rate limit exceeded (simulated).",
    500: "The server had an error while processing your request (simulated).",
    503: "The service is temporarily unavailable (simulated).",
    529: "Overloaded (simulated).",
}


def error_response(
    dialect: Dialect,
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    text = message or _DEFAULT_MESSAGES.get(status, f"Simulated error {status}.")
    if dialect is Dialect.ANTHROPIC:
        kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        body: dict[str, object] = {"type": "error", "error": {"type": kind, "message": text}}
    else:
        default = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
        kind, code = _OPENAI_TYPES.get(status, default)
        body = {"error": {"message": text, "type": kind, "param": None, "code": code}}
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def retry_after_headers(seconds: float | None) -> dict[str, str]:
    """Both spellings: `retry-after` for everyone, `retry-after-ms` for sub-second hints."""
    if seconds is None:
        return {}
    whole = f"{int(seconds)}" if float(seconds).is_integer() else f"{seconds:g}"
    return {"retry-after": whole, "retry-after-ms": f"{round(seconds * 1000)}"}
