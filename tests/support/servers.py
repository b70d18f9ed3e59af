"""Real HTTP servers on 127.0.0.1 for tests: the simulator and the gateway.

Each runs under uvicorn in a thread of its own with its own event loop, so tests talk to
them over real sockets with the real SDKs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from pavedroad.api.app import create_app
from pavedroad.config.loader import load_settings
from pavedroad.plugins.registry import PluginRegistry
from pavedroad.service.gateway import Gateway, build_gateway
from pavedroad.sim import create_app as create_sim_app

MASTER_KEY = "sk-test-master"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThreadServer:
    """uvicorn serving an ASGI app from a background thread."""

    def __init__(self, app: Any, *, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", loop="asyncio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Sim:
    server: ThreadServer

    @property
    def url(self) -> str:
        return self.server.url

    def fault(self, model: str, *, times: int | None = None, **fault: Any) -> None:
        body: dict[str, Any] = {"model": model, "fault": fault}
        if times is not None:
            body["times"] = times
        httpx.post(f"{self.url}/sim/faults", json=body).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/sim/stats").json()
        return data

    def reset(self) -> None:
        httpx.post(f"{self.url}/sim/reset").raise_for_status()


def start_sim(*, require_key: str | None = None) -> Sim:
    return Sim(ThreadServer(create_sim_app(require_key=require_key)).start())


class AdminClient:
    """Admin calls a test makes against any running gateway (in a thread or a process)."""

    url: str

    def client(self, key: str = MASTER_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {key}"},
                            timeout=30)

    def create_key(self, **body: Any) -> str:
        with self.client() as client:
            response = client.post("/admin/keys", json={"name": "test", **body})
            response.raise_for_status()
            key: str = response.json()["key"]
            return key

    def ensure_app(self, path: str, **body: Any) -> str:
        """Create tenant, team and app of `tenant/team/app` as needed; returns the path."""
        tenant, team, app = path.split("/")
        with self.client() as client:
            client.post("/admin/tenants", json={"name": tenant})
            client.post("/admin/teams", json={"tenant": tenant, "name": team})
            response = client.post("/admin/apps", json={"team": f"{tenant}/{team}", "name": app,
                                                         **body})
            if response.status_code != 409:
                response.raise_for_status()
        return path


@dataclass
class RunningGateway(AdminClient):
    server: ThreadServer
    gateway: Gateway
    config_path: Path

    @property
    def url(self) -> str:
        return self.server.url


    def stop(self) -> None:
        self.server.stop()


def start_gateway(
    config: str, tmp_path: Path, *, env: Mapping[str, str] | None = None,
    registry: PluginRegistry | None = None,
) -> RunningGateway:
    """Write `config` (with `{db}` filled in) and serve it on a free port; `registry`
    adds test plugins (guardrails) to the built-ins."""
    path = tmp_path / "pavedroad.yaml"
    path.write_text(config.replace("{db}", f"sqlite:///{tmp_path}/pavedroad.db"))
    environ = {"PAVEDROAD_MASTER_KEY": MASTER_KEY, **(env or {})}
    settings = load_settings(path, env=environ)
    gateway = build_gateway(settings, env=environ, registry=registry)
    server = ThreadServer(create_app(gateway)).start()
    return RunningGateway(server, gateway, path)
