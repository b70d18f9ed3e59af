"""Real HTTP receivers for what the gateway sends out: alert webhooks and OTLP traces."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import ThreadServer


class Receiver:
    """Collects every POST body it gets; `status` lets a test make it fail."""

    def __init__(self, decode: Callable[[bytes], Any] = orjson.loads) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self._decode = decode
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self.server = ThreadServer(app)

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.bodies.append(self._decode(body))
        return Response(b"{}", status_code=self.status, media_type="application/json")

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Receiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 15.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                bodies = list(self.bodies)
            if predicate(bodies):
                return bodies
            time.sleep(0.05)
        raise AssertionError(f"not received in {timeout} s; got {self.bodies!r}")
