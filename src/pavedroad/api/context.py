"""Per-request plumbing shared by the routes: request ids, the gateway, the caller."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pavedroad.core.ids import new_id
from pavedroad.core.types import Caller
from pavedroad.service.gateway import Gateway

REQUEST_ID = "x-pavedroad-request-id"


class RequestIdMiddleware:
    """Plain ASGI (no BaseHTTPMiddleware): gives every request an id and every response
    the header, errors and 404s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID.encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name == header[0] for name, _ in headers):
                    headers.append(header)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def request_id_of(request: Request) -> str:
    request_id: str = request.state.request_id
    return request_id


def token_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.headers.get("x-api-key")


# Set only by the dashboard's in-process admin calls (ui/internal.py): a scope key, which
# nothing from the network can set, carrying the logged-in admin.
UI_CALLER = "pavedroad.ui_caller"


def caller_of(request: Request) -> Caller:
    injected = request.scope.get(UI_CALLER)
    if isinstance(injected, Caller):
        return injected
    return gateway_of(request).keys.authenticate(token_of(request))
