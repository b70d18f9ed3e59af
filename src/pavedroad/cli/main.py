"""`pavedroad`: serve the gateway, run the simulator, manage keys, switches and config."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import uvicorn

from pavedroad import __version__
from pavedroad.api.app import create_app
from pavedroad.cli.alerts import alerts
from pavedroad.cli.audit import audit
from pavedroad.cli.budgets import budgets
from pavedroad.cli.common import config_option, fail, settings_from
from pavedroad.cli.demo import GROUNDED_MODEL, demo_settings, master_key
from pavedroad.cli.evals import evals
from pavedroad.cli.keys import keys
from pavedroad.cli.org import apps, teams, tenants
from pavedroad.cli.policy import policy
from pavedroad.cli.prompts import prompts
from pavedroad.cli.rag import collections, ingest
from pavedroad.cli.redteam import redteam
from pavedroad.cli.spend import spend
from pavedroad.cli.switches import safe_mode, switch
from pavedroad.config.loader import ConfigError
from pavedroad.config.models import Settings
from pavedroad.plugins.registry import load_registry
from pavedroad.providers.transport import AiohttpTransport
from pavedroad.service.gateway import build_deployments, build_gateway
from pavedroad.service.handbook import seed_handbook


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pavedroad")
def cli() -> None:
    """pavedroad: one governed, observable road to LLMs."""


def _serve(settings: Settings) -> None:
    try:
        gateway = build_gateway(settings)
    except ConfigError as exc:
        fail(str(exc), code=2)
    app = create_app(gateway)
    uvicorn.run(app, host=settings.server.host, port=settings.server.port,
                log_level=settings.server.log_level, access_log=False,
                loop="uvloop", http="httptools", lifespan="on")


@cli.command()
@config_option
@click.option("--host", default=None, help="Interface to listen on. Env: PAVEDROAD_HOST.")
@click.option("--port", type=int, default=None, help="Port to listen on. Env: PAVEDROAD_PORT.")
def serve(config_path: Path | None, host: str | None, port: int | None) -> None:
    """Serve the gateway with the settings in --config."""
    _serve(settings_from(config_path, {("server", "host"): host, ("server", "port"): port}))


@cli.command()
@click.option("--host", default="127.0.0.1", help="Interface to listen on.")
@click.option("--port", type=int, default=8089, help="Port to listen on.")
@click.option("--parent", type=int, default=None, hidden=True,
              help="Exit when this process does (how `up` runs its simulator).")
def sim(host: str, port: int, parent: int | None) -> None:
    """Run the simulated provider (OpenAI and Anthropic wire formats, injectable faults)."""
    from pavedroad.sim import serve as serve_sim

    if parent is not None:
        _die_with_parent(parent)

    click.echo(f"pavedroad sim listening on http://{host}:{port} (faults: POST /sim/faults)")
    serve_sim(host=host, port=port)


def _die_with_parent(parent: int) -> None:
    """Linux: this process gets SIGTERM when `parent` ends, however it ends (`up` is
    stopped by a signal that uvicorn re-raises, so its `finally` alone would not run)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: `up`'s `finally` still covers a normal exit
    if os.getppid() != parent:  # it ended before we asked
        sys.exit(0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    fail(f"the simulated provider did not start on port {port}")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on. Env: PAVEDROAD_HOST.")
@click.option("--port", type=int, default=None, help="Port to listen on. Env: PAVEDROAD_PORT.")
def up(host: str | None, port: int | None) -> None:
    """Start the embedded default: the gateway, a labelled demo deployment and the grounded
    model over the bundled docs (the `handbook` collection)."""
    sim_port = _free_port()
    key = master_key()
    os.environ["PAVEDROAD_MASTER_KEY"] = key
    settings = demo_settings(sim_port=sim_port)
    overrides = {"host": host or settings.server.host, "port": port or settings.server.port}
    server = settings.server.model_copy(update=overrides)
    settings = settings.model_copy(update={"server": server})
    seed_handbook(settings, progress=click.echo)  # incremental: unchanged docs are skipped
    sim_proc = subprocess.Popen([sys.executable, "-m", "pavedroad", "sim", "--port",
                                 str(sim_port), "--parent", str(os.getpid())],
                                stdout=subprocess.DEVNULL)
    try:
        _wait_for(sim_port)
        url = f"http://{server.host}:{server.port}"
        names = ", ".join(m.name for m in settings.models)
        click.echo(f"\npavedroad {__version__} on {url}  (models: {names})")
        click.echo("  demo-sim is a SIMULATED provider: canned answers, for trying the gateway.")
        click.echo(f"  admin key: {key}")
        click.echo(f"  {GROUNDED_MODEL} answers from the bundled docs (collection "
                   "'handbook'), quoting them with citations.")
        click.echo(f"  try: curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
                   "-H 'Content-Type: application/json' "
                   f"-d '{{\"model\":\"{GROUNDED_MODEL}\",\"messages\":[{{\"role\":\"user\","
                   "\"content\":\"How do I revoke a virtual key?\"}]}'\n")
        _serve(settings)
    finally:
        sim_proc.terminate()
        sim_proc.wait(timeout=10)


@cli.group()
def config() -> None:
    """Check configuration files."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def config_check(file: Path) -> None:
    """Report every problem in FILE with its location; exit 2 when there is any."""
    settings = settings_from(file)
    try:
        build_deployments(settings, load_registry(), AiohttpTransport())
    except ConfigError as exc:
        fail(f"{file}: {exc}", code=2)
    click.echo(f"{file}: ok ({len(settings.deployments)} deployments, "
               f"{len(settings.models)} models)")


for group in (keys, switch, tenants, teams, apps, spend, budgets, audit, alerts, policy,
              safe_mode,
              ingest, collections, redteam, prompts, evals):
    cli.add_command(group)


def main() -> None:
    cli(prog_name="pavedroad")
