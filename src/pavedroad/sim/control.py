"""The control API (`/sim/...`): add and clear fault rules, read and reset stats.

It is deliberately unauthenticated even when a provider key is required: tests and
rehearsals drive it from outside the client under test.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pavedroad.sim.faults import Fault
from pavedroad.sim.pipeline import sim_state
from pavedroad.sim.state import ANY_MODEL, FaultRule

__all__ = ["add_fault", "clear_faults", "list_faults", "reset", "stats"]


class _RuleRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fault: Fault
    model: str = ANY_MODEL
    times: Annotated[int, msgspec.Meta(ge=1)] | None = None


async def add_fault(request: Request) -> Response:
    try:
        rule = msgspec.json.decode(await request.body(), type=_RuleRequest)
    except msgspec.DecodeError as exc:
        return JSONResponse({"error": f"invalid fault rule: {exc}"}, status_code=400)
    state = sim_state(request)
    state.add_rule(rule.model, rule.fault, times=rule.times)
    return JSONResponse({"rules": _rules(state.rules)})


async def list_faults(request: Request) -> Response:
    return JSONResponse({"rules": _rules(sim_state(request).rules)})


async def clear_faults(request: Request) -> Response:
    state = sim_state(request)
    cleared = len(state.rules)
    state.clear_faults()
    return JSONResponse({"cleared": cleared})


async def stats(request: Request) -> Response:
    return JSONResponse(sim_state(request).stats())


async def reset(request: Request) -> Response:
    sim_state(request).reset()
    return JSONResponse({"reset": True})


def _rules(rules: list[FaultRule]) -> list[dict[str, Any]]:
    return [{"model": r.model, "fault": msgspec.to_builtins(r.fault), "times": r.remaining} for r in rules]
