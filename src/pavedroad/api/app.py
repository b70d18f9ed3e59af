"""The ASGI app factory: routes, error handlers and the one middleware, built once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from pavedroad.api import (
    admin_routes,
    alert_routes,
    anthropic_routes,
    audit_routes,
    budget_routes,
    eval_routes,
    health_routes,
    online_eval_routes,
    openai_routes,
    prompt_routes,
    rag_routes,
    spend_routes,
    stats_routes,
    ui_routes,
)
from pavedroad.api.context import RequestIdMiddleware
from pavedroad.api.errors import handle_http_exception, handle_pavedroad_error, handle_unexpected
from pavedroad.api.runtime import tune_gc
from pavedroad.core.errors import PavedroadError
from pavedroad.service.gateway import Gateway


def create_app(gateway: Gateway) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        if gateway.settings.server.tune_gc:
            tune_gc()
        try:
            yield
        finally:
            await gateway.stop()

    routes = [
        Route("/v1/chat/completions", openai_routes.chat_completions, methods=["POST"]),
        Route("/chat/completions", openai_routes.chat_completions, methods=["POST"]),
        Route("/v1/embeddings", openai_routes.embeddings, methods=["POST"]),
        Route("/v1/models", openai_routes.list_models, methods=["GET"]),
        Route("/v1/messages", anthropic_routes.messages, methods=["POST"]),
        Route("/healthz", health_routes.healthz, methods=["GET"]),
        Route("/readyz", health_routes.readyz, methods=["GET"]),
        Route("/metrics", health_routes.metrics, methods=["GET"]),
        Route("/admin/keys", admin_routes.create_key, methods=["POST"]),
        Route("/admin/keys", admin_routes.list_keys, methods=["GET"]),
        Route("/admin/keys/{key_id}", admin_routes.revoke_key, methods=["DELETE"]),
        Route("/admin/switches", admin_routes.list_switches, methods=["GET"]),
        Route("/admin/switches", admin_routes.set_switch, methods=["POST"]),
        Route("/admin/safe-mode", admin_routes.set_safe_mode, methods=["POST"]),
        Route("/admin/deployments", admin_routes.list_deployments, methods=["GET"]),
        Route("/admin/org", admin_routes.list_org, methods=["GET"]),
        Route("/admin/tenants", admin_routes.create_tenant, methods=["POST"]),
        Route("/admin/teams", admin_routes.create_team, methods=["POST"]),
        Route("/admin/apps", admin_routes.create_app, methods=["POST"]),
        Route("/admin/apps/{app:path}", admin_routes.update_app, methods=["PATCH"]),
        Route("/admin/budgets", budget_routes.set_budget, methods=["POST"]),
        Route("/admin/budgets", budget_routes.list_budgets, methods=["GET"]),
        Route("/admin/budgets/{budget_id}", budget_routes.delete_budget, methods=["DELETE"]),
        Route("/admin/spend", spend_routes.spend, methods=["GET"]),
        Route("/admin/ledger", spend_routes.ledger_rows, methods=["GET"]),
        Route("/admin/audit", audit_routes.audit_records, methods=["GET"]),
        Route("/admin/audit/verify", audit_routes.audit_verify, methods=["GET"]),
        Route("/admin/evals/online", online_eval_routes.online_scores, methods=["GET"]),
        Route("/admin/stats/timeseries", stats_routes.timeseries, methods=["GET"]),
        Route("/admin/stats/summary", stats_routes.summary, methods=["GET"]),
        Route("/admin/stats/overview", stats_routes.overview, methods=["GET"]),
        Route("/admin/stats/findings", stats_routes.findings, methods=["GET"]),
        Route("/admin/stats/attempts", stats_routes.attempts, methods=["GET"]),
        Route("/admin/requests", stats_routes.requests, methods=["GET"]),
        Route("/admin/requests/{request_id}", stats_routes.request_one, methods=["GET"]),
        Route("/admin/alerts", alert_routes.list_alerts, methods=["GET"]),
        Route("/admin/slos", alert_routes.list_slos, methods=["GET"]),
        *(Route(path, endpoint, methods=[method])
          for path, endpoint, method in prompt_routes.ROUTES),
        *(Route(path, endpoint, methods=[method])
          for path, endpoint, method in eval_routes.ROUTES),
        Route("/v1/collections", rag_routes.list_collections, methods=["GET"]),
        Route("/v1/collections/{collection}/search", rag_routes.search, methods=["POST"]),
        Route("/admin/collections", rag_routes.create_collection, methods=["POST"]),
        Route("/admin/collections", rag_routes.admin_list_collections, methods=["GET"]),
        Route("/admin/collections/{collection}", rag_routes.get_collection, methods=["GET"]),
        Route("/admin/collections/{collection}", rag_routes.delete_collection,
              methods=["DELETE"]),
        Route("/admin/collections/{collection}/apps", rag_routes.set_apps, methods=["PUT"]),
        Route("/admin/collections/{collection}/documents", rag_routes.ingest,
              methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            PavedroadError: handle_pavedroad_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    if gateway.settings.ui.enabled:  # the dashboard (docs/dashboard.md)
        app.router.routes.extend(ui_routes.ROUTES)
    return app
