"""The only place a domain error becomes an HTTP error body.

OpenAI-style `{"error": {"message", "type", "code", "param"}}` everywhere, except the
Anthropic Messages route, which answers in Anthropic's own error shape.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.core.errors import (
    BackendUnavailable,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PavedroadError,
    StoreUnavailable,
    UpstreamRateLimited,
)
from pavedroad.formats import openai_error_to_anthropic

log = logging.getLogger("pavedroad.api")


def error_body(exc: PavedroadError) -> dict[str, Any]:
    return {"error": {"message": exc.message, "type": exc.error_type, "code": exc.code,
                      "param": exc.param, **exc.body_fields()}}


def error_headers(exc: PavedroadError, request_id: str | None) -> dict[str, str]:
    headers = dict(exc.headers())
    if request_id:
        headers["x-pavedroad-request-id"] = request_id
    route = exc.details.get("route")
    if route:
        headers["x-pavedroad-route"] = str(route)
    if isinstance(exc, UpstreamRateLimited) and "retry-after" not in headers:
        headers["retry-after"] = "1"
    return headers


def error_response(exc: PavedroadError, request: Request | None = None) -> Response:
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body = error_body(exc)
    if request is not None and request.url.path.endswith("/messages"):
        body = openai_error_to_anthropic(body, exc.http_status)
    return Response(orjson.dumps(body), status_code=exc.http_status,
                    headers=error_headers(exc, request_id), media_type="application/json")


async def handle_pavedroad_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PavedroadError)
    return error_response(exc, request)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: PavedroadError = MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}")
    elif exc.status_code == 404:
        error = NotFound(f"no route {request.method} {request.url.path}; see docs/api.md")
    else:
        error = InvalidRequest(str(exc.detail))
    return error_response(error, request)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, BackendUnavailable):  # e.g. an admin call reading budgets from Redis
        return error_response(StoreUnavailable(f"a shared store is unreachable ({exc}); "
                                               "retry shortly"), request)
    # Log the trace for operators; the caller gets a stable body and no internals.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(PavedroadError("internal error; the request id identifies it in "
                                         "the gateway's logs"), request)
