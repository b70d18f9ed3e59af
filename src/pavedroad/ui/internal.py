"""In-process calls from the dashboard into the admin API, as the logged-in admin.

The dashboard renders what the admin endpoints answer rather than re-implementing their
reads, scoping and auditing: a call goes through the same ASGI app (routes, error
handlers), with the session's caller placed in the ASGI scope instead of a bearer key.
Endpoints other engineers add later (alerts, prompts, evals) need no UI-side code beyond
rendering; one that does not exist answers 404 and its panel says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.types import Message

from pavedroad.api.context import UI_CALLER
from pavedroad.core.types import Caller


@dataclass(slots=True, frozen=True)
class AdminAnswer:
    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        if isinstance(self.data, dict) and isinstance(self.data.get("error"), dict):
            return str(self.data["error"].get("message", ""))
        return f"HTTP {self.status}"


async def call_admin(request: Request, caller: Caller, method: str, path: str, *,
                     query: dict[str, Any] | None = None, body: Any = None) -> AdminAnswer:
    """`method path` against this gateway's own app, as `caller`; JSON in and out."""
    payload = orjson.dumps(body) if body is not None else b""
    pairs = [(k, v) for k, v in (query or {}).items() if v not in (None, "")]
    flat = [(k, x) for k, v in pairs for x in (v if isinstance(v, list) else [v])]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": request.url.scheme, "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": urlencode(flat).encode(),
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode())],
        "client": request.scope.get("client"), "server": request.scope.get("server"),
        "app": request.app, "state": {}, UI_CALLER: caller,
    }
    sent = False
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    raw = b"".join(chunks)
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        data = None
    return AdminAnswer(status, data)
