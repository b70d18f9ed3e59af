"""The web dashboard at /ui: login, pages rendered on the server, and two forms (logout,
kill switch). Sessions are server-side (ui/session.py); every POST checks the session's
CSRF token and the Origin header; pages never read the store except through the admin API
(ui/internal.py). See docs/dashboard.md and ADR 0019.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pavedroad.api.context import gateway_of
from pavedroad.core.errors import PavedroadError
from pavedroad.core.types import Caller
from pavedroad.ui import pages
from pavedroad.ui.internal import call_admin
from pavedroad.ui.session import COOKIE, Session, SessionStore
from pavedroad.ui.throttle import LoginThrottle

STATIC = Path(__file__).resolve().parent.parent / "ui" / "static"
MAX_FORM_BYTES = 16 * 1024
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
    "x-frame-options": "DENY", "cache-control": "no-store",
}

_env = Environment(loader=PackageLoader("pavedroad.ui", "templates"),
                   autoescape=select_autoescape(default=True), trim_blocks=True,
                   lstrip_blocks=True)
_env.filters.update(
    stamp=pages.stamp,
    usd=lambda v: "—" if v is None else (f"${v:,.4f}" if abs(v) < 1 else f"${v:,.2f}"),
    ms=lambda v: "—" if v is None else f"{v:,.0f} ms",
    pct=lambda v: "—" if v is None else f"{v * 100:.1f}%",
)

Page = Callable[[Request, Caller, Session], Awaitable[Response]]


def _store(request: Request) -> SessionStore:
    state = request.app.state
    store: SessionStore | None = getattr(state, "ui_sessions", None)
    if store is None:
        gateway = gateway_of(request)
        store = SessionStore(gateway.engine, ttl_seconds=gateway.settings.ui.session_ttl_seconds)
        state.ui_sessions = store
    return store


def render(name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    html = _env.get_template(name).render(**context)
    return Response(html, status_code=status, media_type="text/html",
                    headers=SECURITY_HEADERS)


def _secure(request: Request) -> bool:
    mode = gateway_of(request).settings.ui.cookie_secure
    if mode != "auto":
        return mode == "always"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind these pages post), size-limited."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on POSTs; one naming another site is a forged form."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)


def may_log_in(caller: Caller) -> bool:
    """The master key sees everything; a tenant admin key sees its tenant (ADR 0019)."""
    return caller.is_admin or caller.tenant_admin


async def _session(request: Request) -> tuple[Session, Caller] | None:
    """The live session and its caller, resolved from the key id it holds on every request:
    a key revoked, expired or demoted since login ends the session."""
    store = _store(request)
    session = await store.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    try:
        caller = gateway_of(request).keys.by_id(session.actor)
    except PavedroadError:
        caller = None
    if caller is None or not may_log_in(caller):
        await store.delete(request.cookies.get(COOKIE))
        return None
    return session, caller


def page(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page that needs a live session; without one, the login page."""
    async def endpoint(request: Request) -> Response:
        found = await _session(request)
        if found is None:
            return _to_login(request)
        session, caller = found
        return await handler(request, caller, session)
    return endpoint


def form(handler: Callable[[Request, Caller, Session, dict[str, str]], Awaitable[Response]],
         ) -> Callable[[Request], Awaitable[Response]]:
    """A state-changing POST: a live session, its CSRF token, and a same-origin request."""
    async def endpoint(request: Request) -> Response:
        found = await _session(request)
        if found is None:
            return _to_login(request)
        session, caller = found
        data = await _form(request)
        if not _same_origin(request) or not session.csrf_ok(data.get("csrf")):
            return render("message.html", {"title": "Refused", "message":
                          "This form is stale or came from another site; reload the page "
                          "and try again.", "session": session}, status=403)
        return await handler(request, caller, session, data)
    return endpoint


async def login_form(request: Request) -> Response:
    return render("login.html", {"next": request.query_params.get("next", "/ui/overview"),
                                 "error": None})


def _safe_next(target: str) -> str:
    return target if target.startswith("/ui/") and "//" not in target else "/ui/overview"


def _throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    throttle: LoginThrottle | None = getattr(state, "ui_login_throttle", None)
    if throttle is None:
        throttle = state.ui_login_throttle = LoginThrottle()
    return throttle


async def login(request: Request) -> Response:
    data = await _form(request)
    target = _safe_next(data.get("next", ""))
    who = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    wait = throttle.wait_seconds(who)
    if wait > 0:
        response = render("login.html", {"next": target, "error": (
            f"Too many failed logins from your address; try again in {int(wait) + 1} s.")},
            status=429)
        response.headers["retry-after"] = str(int(wait) + 1)
        return response
    refused = render("login.html", {"next": target, "error": (
        "That key is not an admin key: log in with the master key or a tenant admin key.")},
        status=401)
    if not _same_origin(request):
        return refused
    try:
        caller = gateway_of(request).keys.authenticate(data.get("key", "").strip() or None)
    except PavedroadError:
        throttle.failed(who)
        return refused
    if not may_log_in(caller):
        throttle.failed(who)
        return refused
    throttle.succeeded(who)
    store = _store(request)
    token, _ = await store.create(caller.key_id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(gateway_of(request).settings.ui.session_ttl_seconds),
                        path="/ui", httponly=True, samesite="strict", secure=_secure(request))
    return response


async def _logout(request: Request, caller: Caller, session: Session,
                  data: dict[str, str]) -> Response:
    await _store(request).delete(request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response


def _base(request: Request, session: Session, active: str,
          caller: Caller | None = None) -> dict[str, Any]:
    return {"session": session, "active": active, "query": dict(request.query_params),
            "viewer": _viewer(caller)}


def _viewer(caller: Caller | None) -> str | None:
    """Who the pages are shown to: a tenant admin sees only its tenant's data."""
    if caller is None or caller.is_admin:
        return None
    tenant = caller.tenant.name if caller.tenant is not None else "?"
    return f"{caller.name} · tenant {tenant} only"


async def _overview(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.overview(request, caller, request.query_params)
    return render("overview.html", {**_base(request, session, "overview", caller), **context})


async def _requests(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.requests_page(request, caller, request.query_params)
    return render("requests.html", {**_base(request, session, "requests", caller), **context})


async def _request(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.request_detail(request, caller, request.path_params["request_id"])
    return render("request.html", {**_base(request, session, "requests", caller), **context},
                  status=200 if context["detail"] else 404)


async def _budgets(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.budgets_page(request, caller)
    return render("budgets.html", {**_base(request, session, "budgets", caller), **context})


async def _routing(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.routing_page(request, caller, request.query_params)
    return render("routing.html", {**_base(request, session, "routing", caller), **context})


async def _switch(request: Request, caller: Caller, session: Session,
                  data: dict[str, str]) -> Response:
    """Flip a kill switch through the admin API (so it is validated and audited there)."""
    answer = await call_admin(request, caller, "POST", "/admin/switches", body={
        "scope": data.get("scope", ""), "name": data.get("name", ""),
        "disabled": data.get("disabled") == "1",
        "reason": (data.get("reason") or "")[:500] or "from the dashboard"})
    note = (f"{data.get('name')} switched {'off' if data.get('disabled') == '1' else 'on'}"
            if answer.ok else f"not changed: {answer.error}")
    return RedirectResponse(f"/ui/routing?{urlencode({'note': note})}", status_code=303)


async def _evals(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.evals_page(request, caller)
    return render("optional.html", {**_base(request, session, "evals", caller), **context})


async def _prompts(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.prompts_page(request, caller)
    return render("optional.html", {**_base(request, session, "prompts", caller), **context})


async def _audit(request: Request, caller: Caller, session: Session) -> Response:
    context = await pages.audit_page(request, caller)
    return render("audit.html", {**_base(request, session, "audit", caller), **context})


async def _home(request: Request) -> Response:
    return RedirectResponse("/ui/overview", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/ui", _home, methods=["GET"]),
    Route("/ui/login", login_form, methods=["GET"]),
    Route("/ui/login", login, methods=["POST"]),
    Route("/ui/logout", form(_logout), methods=["POST"]),
    Route("/ui/overview", page(_overview), methods=["GET"]),
    Route("/ui/requests", page(_requests), methods=["GET"]),
    Route("/ui/requests/{request_id}", page(_request), methods=["GET"]),
    Route("/ui/budgets", page(_budgets), methods=["GET"]),
    Route("/ui/routing", page(_routing), methods=["GET"]),
    Route("/ui/routing/switch", form(_switch), methods=["POST"]),
    Route("/ui/evals", page(_evals), methods=["GET"]),
    Route("/ui/prompts", page(_prompts), methods=["GET"]),
    Route("/ui/audit", page(_audit), methods=["GET"]),
    Mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static"),
]
