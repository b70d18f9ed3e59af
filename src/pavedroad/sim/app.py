"""Assemble the simulator app and run it under uvicorn."""

from __future__ import annotations

import logging

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pavedroad.sim import control, endpoints
from pavedroad.sim.errors import Dialect, error_response
from pavedroad.sim.sse import SimulatedReset
from pavedroad.sim.state import SimState

__all__ = ["create_app", "serve"]

_AZURE = "/openai/deployments/{deployment}"


def create_app(*, require_key: str | None = None) -> Starlette:
    """A fresh simulator with its own `SimState` (at `app.state.sim`)."""
    post = ["POST"]
    routes = [
        Route("/v1/chat/completions", endpoints.chat_completions, methods=post),
        Route("/chat/completions", endpoints.chat_completions, methods=post),
        Route(f"{_AZURE}/chat/completions", endpoints.chat_completions, methods=post),
        Route("/v1/messages", endpoints.messages, methods=post),
        Route("/v1/embeddings", endpoints.embeddings, methods=post),
        Route("/embeddings", endpoints.embeddings, methods=post),
        Route(f"{_AZURE}/embeddings", endpoints.embeddings, methods=post),
        Route("/v1/models", endpoints.list_models, methods=["GET"]),
        Route("/models", endpoints.list_models, methods=["GET"]),
        Route("/sim/faults", control.add_fault, methods=post),
        Route("/sim/faults", control.list_faults, methods=["GET"]),
        Route("/sim/faults", control.clear_faults, methods=["DELETE"]),
        Route("/sim/stats", control.stats, methods=["GET"]),
        Route("/sim/reset", control.reset, methods=post),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.sim = SimState(require_key=require_key)
    return app


def serve(host: str = "127.0.0.1", port: int = 8089) -> None:
    """Run the simulator until interrupted (blocking)."""
    config = uvicorn.Config(create_app(), host=host, port=port, log_level="warning")
    # After Config: it (re)configures logging, and the filter must survive that.
    logging.getLogger("uvicorn.error").addFilter(_hide_simulated_resets)
    uvicorn.Server(config).run()


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods still answer in a provider's JSON error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    dialect = Dialect.ANTHROPIC if request.url.path.startswith("/v1/messages") else Dialect.OPENAI
    return error_response(dialect, status, f"{request.method} {request.url.path}: {exc}")


def _hide_simulated_resets(record: logging.LogRecord) -> bool:
    """A deliberate reset is not a server error; keep it out of the operator's log."""
    exc = record.exc_info[1] if record.exc_info else None
    return not _only_resets(exc)


def _only_resets(exc: BaseException | None) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_resets(e) for e in exc.exceptions)
    return isinstance(exc, SimulatedReset)
