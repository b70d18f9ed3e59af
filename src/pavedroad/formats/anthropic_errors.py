"""OpenAI-style error bodies -> Anthropic error bodies, for callers on the Anthropic API.

Anthropic SDKs pick their exception class from the HTTP status and `error.type`, so the
type follows the status. Our stable `code` rides along as an extra field.
"""

from __future__ import annotations

from typing import Any

_TYPES_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status.

    Anthropic documents invalid_request_error for 4xx statuses it does not list
    (405, 409, 415, 422, ...); every other status is api_error.
    """
    if status in _TYPES_BY_STATUS:
        return _TYPES_BY_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def openai_error_to_anthropic(body: dict[str, Any], status: int) -> dict[str, Any]:
    """Translate `{"error": {"message", "type", "code"}}` into Anthropic's error shape."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = error.get("message")
    out: dict[str, Any] = {
        "type": anthropic_error_type(status),
        "message": message if isinstance(message, str) and message else f"HTTP {status}",
    }
    code = error.get("code")
    if isinstance(code, str) and code:
        out["code"] = code
    return {"type": "error", "error": out}
