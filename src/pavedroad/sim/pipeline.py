"""The steps every simulated provider call shares: admit, pick a fault, answer.

Order matters and mirrors a real provider: authentication first, then request
validation (by the endpoint), then the injected fault, then the answer. Faults are
chosen after parsing because rules are keyed by model.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from pavedroad.sim.errors import Dialect, Reject, error_response, retry_after_headers
from pavedroad.sim.faults import FAULT_HEADER, Fault, FaultError, fault_from_header
from pavedroad.sim.sse import Frame, aborted_body, play
from pavedroad.sim.state import SimState

__all__ = ["NO_FAULT", "admit", "engage", "json_reply", "speaks", "stream_reply"]

NO_FAULT = Fault()

Endpoint = Callable[[Request], Awaitable[Response]]


def speaks(dialect: Dialect) -> Callable[[Endpoint], Endpoint]:
    """Turn `Reject` raised anywhere in a handler into an error body in `dialect`."""

    def wrap(handler: Endpoint) -> Endpoint:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except Reject as exc:
                return error_response(dialect, exc.status, exc.message, headers=exc.headers)

        return run

    return wrap


def sim_state(request: Request) -> SimState:
    return cast(SimState, request.app.state.sim)


def admit(request: Request) -> tuple[SimState, Fault | None]:
    """Count the request, check the key, and read a per-request fault header if any."""
    state = sim_state(request)
    state.record_request(request.url.path, request.headers)
    if not _authorized(state.require_key, request.headers):
        raise Reject(401)
    raw = request.headers.get(FAULT_HEADER, "").strip()
    try:
        return state, fault_from_header(raw) if raw else None
    except FaultError as exc:
        raise Reject(400, str(exc)) from exc


async def engage(state: SimState, model: str, header_fault: Fault | None) -> Fault:
    """Choose the fault (header beats rules), wait out its latency, raise its status."""
    state.record_model(model)
    fault = header_fault if header_fault is not None else state.take_fault(model)
    if fault is None:
        return NO_FAULT
    state.record_fault()
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.status is not None:
        raise Reject(fault.status, headers=retry_after_headers(fault.retry_after))
    return fault


def json_reply(payload: Mapping[str, Any], fault: Fault) -> Response:
    body = orjson.dumps(payload)
    if fault.reset_after_chunks is not None:
        return StreamingResponse(aborted_body(body), media_type="application/json")
    if fault.malformed_json:
        body = body[: len(body) // 2]
    return Response(body, media_type="application/json")


def stream_reply(frames: list[Frame], fault: Fault) -> Response:
    return StreamingResponse(
        play(frames, fault),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def _authorized(required: str | None, headers: Mapping[str, str]) -> bool:
    """Any credential passes unless a key is required; then any usual header may carry it."""
    if required is None:
        return True
    offered = {headers.get("x-api-key"), headers.get("api-key")}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        offered.add(token.strip())
    return required in offered
