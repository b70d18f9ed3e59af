"""A caller that leaves a stream early, even before its first chunk, frees what it held."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import orjson

from tests.support.servers import RunningGateway, Sim


def _leave_early(gw: RunningGateway, key: str, *, read_bytes: int) -> None:
    body = orjson.dumps({"model": "m", "stream": True,
                         "messages": [{"role": "user", "content": "one two three four five"}]})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
               f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", gw.server.port)) as sock:
        sock.sendall(request + body)
        if read_bytes:
            sock.recv(read_bytes)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def _closed_count(gw: RunningGateway) -> float:
    text = httpx.get(f"{gw.url}/metrics").text
    for line in text.splitlines():
        if line.startswith("pavedroad_requests_total") and 'code="client_closed"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_slots_are_freed_when_callers_leave_streams(
    sim: Sim, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gw = gateway_factory(f"""
store: {{url: "{{db}}"}}
deployments:
  - {{name: up, provider: openai_compatible, model: up-m, api_base: "{sim.url}/v1"}}
models:
  - {{name: m, route: up}}
""")
    sim.fault("up-m", chunk_delay_ms=150)
    key = gw.create_key(models=["m"], limits={"concurrent": 1})
    for read_bytes in (0, 64, 0, 64):
        _leave_early(gw, key, read_bytes=read_bytes)
        # The one slot must come back: the next request is admitted within a second.
        deadline = time.monotonic() + 3
        status = 0
        while time.monotonic() < deadline:
            status = httpx.post(f"{gw.url}/v1/chat/completions", timeout=10,
                                headers={"authorization": f"Bearer {key}"},
                                json={"model": "m", "messages": [
                                    {"role": "user", "content": "hi"}]}).status_code
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200
    deadline = time.monotonic() + 3
    while _closed_count(gw) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _closed_count(gw) == 4
