#!/usr/bin/env python3
"""Gateway benchmark: throughput, added latency and CPU per request of LLM
gateways in front of one fast static-JSON upstream, versus calling it directly.

Stdlib only. Everything listens on 127.0.0.1 and is stopped on exit.

    python3 bench/gateways.py                         # full run: 2 rounds, 15 s + 5 s warm-up
    python3 bench/gateways.py --duration 5 --warmup 2 # quick run
    python3 bench/gateways.py --only pavedroad,portkey --conns 16

See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LUA = BENCH / "wrk_chat.lua"
NGINX_TMPL = BENCH / "nginx.conf.tmpl"
PAVEDROAD_TMPL = BENCH / "pavedroad-bench.yaml"
PAVEDROAD_CORE_TMPL = BENCH / "pavedroad-core.yaml"
PAVEDROAD_METERED_TMPL = BENCH / "pavedroad-metered.yaml"
PAVEDROAD_REDIS_TMPL = BENCH / "pavedroad-redis.yaml"
# How the test suite installs and starts PostgreSQL and Redis; the redis leg reuses it.
SERVICES_PY = REPO / "tests" / "support" / "services.py"
RESULTS = BENCH / "results"
LITELLM_VENV = BENCH / ".venvs" / "litellm"
PORTKEY_DIR = BENCH / ".portkey"
PORTKEY_JS = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"

HOST = "127.0.0.1"  # the only address this script ever talks to
MODEL = "bench-model"
PAVEDROAD_MASTER_KEY = "sk-bench-master"
LITELLM_MASTER_KEY = "sk-bench-litellm"
UPSTREAM_API_KEY = "sk-bench-upstream"  # forwarded to nginx, which ignores it
ALL_GATEWAYS = (
    "direct",
    "pavedroad",
    "pavedroad-core",
    "pavedroad-metered",
    "pavedroad-redis",
    "litellm",
    "portkey",
)
DEFAULT_GATEWAYS = ("pavedroad", "litellm", "portkey")

# The metering legs, each measured against pavedroad-core (same round, same conns),
# with the target for its added p50 at 1 connection, in ms (issue 3).
CORE = "pavedroad-core"
METERING_TARGETS = {"pavedroad-metered": 0.5, "pavedroad-redis": 2.0}
# Who the metered legs' key belongs to, created with the CLI.
BENCH_TENANT, BENCH_TEAM, BENCH_APP = "bench-tenant", "bench-team", "bench-app"
# Limits on key, app, team and tenant: far above what one core can serve
# (~10^3-10^4 req/s, ~300 tokens each), so they are taken but never refuse.
BENCH_LIMITS = ["--rpm", "100000000", "--tpm", "100000000000", "--concurrent", "100000"]
# Hard budgets on the same four, in USD per month; a run spends well under $100.
BENCH_BUDGET_USD = "1000000"

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOADAVG: dict[str, list[float]] = {}  # 1/5/15-minute load averages at start and end of the run


@dataclass
class Pinning:
    upstream: str = "0"  # nginx + wrk
    gateway: str = "1"  # the gateway under test
    enabled: bool = True  # False with --no-pin


CPUS = Pinning()


def pin(cpu: str) -> list[str]:
    """taskset prefix that pins a command to one CPU (empty with --no-pin)."""
    return ["taskset", "-c", cpu] if CPUS.enabled else []


# What the upstream answers to every POST /v1/chat/completions.
UPSTREAM_BODY = {
    "id": "chatcmpl-bench0000000000000000000000",
    "object": "chat.completion",
    "created": 1700000000,
    "model": MODEL,
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Config is validated at start-up. Budgets and rate limits hold under "
                "concurrency and across replicas. Breakers, metrics and stream errors are explicit.",
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 212, "completion_tokens": 38, "total_tokens": 250},
}


class SkipGateway(Exception):
    """A gateway that cannot run here; the rest of the benchmark goes on."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Never let a child send loopback traffic through a proxy.
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("PYTHONPATH", None)
    if extra:
        env.update(extra)
    return env


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # fields after "(comm)": state ppid pgrp session ... utime(11) stime(12) cutime(13) cstime(14)
    return raw[raw.rindex(")") + 2 :].split()


def _running(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _all_stats() -> dict[int, list[str]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                out[int(name)] = st
    return out


def tree_pids(root: int) -> set[int]:
    """root, its descendants, and anything still in root's session."""
    stats = _all_stats()
    kids: dict[int, list[int]] = {}
    for pid, st in stats.items():
        kids.setdefault(int(st[1]), []).append(pid)
    found = {root} if root in stats else set()
    todo = [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in found:
                found.add(k)
                todo.append(k)
    found |= {pid for pid, st in stats.items() if int(st[3]) == root}
    return found


def tree_cpu_seconds(root: int) -> float:
    """utime+stime (+ reaped children's) of the whole process tree, in seconds."""
    ticks = 0
    for pid in tree_pids(root):
        st = _stat(pid)
        if st is not None:
            ticks += int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
    return ticks / CLK_TCK


def main_thread_cpu_seconds(pid: int) -> float:
    """utime+stime of a process's main thread only (for pavedroad: the serving event loop;
    its other threads are the ledger flusher and the like)."""
    try:
        raw = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    except OSError:
        return 0.0
    st = raw[raw.rindex(")") + 2 :].split()
    return (int(st[11]) + int(st[12])) / CLK_TCK


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    logfile: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def signal_tree(self, sig: int) -> None:
        for pid in tree_pids(self.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def freeze(self) -> None:
        self.signal_tree(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal_tree(signal.SIGCONT)

    def stop(self, grace: float = 10.0) -> None:
        pids = tree_pids(self.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.popen.poll()
            if not any(_running(p) for p in pids):
                break
            time.sleep(0.1)
        for pid in pids | tree_pids(self.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


class Procs:
    """Every process started by the benchmark; all stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.items: list[Proc] = []
        # (name, stop function) of servers that are not our children (PostgreSQL and
        # Redis daemonize); run after every process is stopped, last added first.
        self.cleanups: list[tuple[str, Callable[[], None]]] = []

    def start(
        self, name: str, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Proc:
        logfile = self.workdir / f"{name}.log"
        fh = open(logfile, "ab")  # noqa: SIM115 - the child owns it
        try:
            popen = subprocess.Popen(
                argv,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env(env),
                cwd=str(cwd) if cwd else None,
                start_new_session=True,
            )
        finally:
            fh.close()
        proc = Proc(name, popen, logfile)
        self.items.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.items:
            self.items.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.items):
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the others
                log(f"stopping {proc.name}: {exc}")
        self.items.clear()
        self.run_cleanups(0)

    def run_cleanups(self, since: int) -> None:
        """Stop the servers registered after the first `since`, last added first."""
        while len(self.cleanups) > since:
            name, fn = self.cleanups.pop()
            try:
                fn()
            except Exception as exc:  # keep stopping the others
                log(f"stopping {name}: {exc}")


# --------------------------------------------------------------------------
# HTTP helpers (readiness and one preflight request; never used for load)
# --------------------------------------------------------------------------

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    assert url.startswith(f"http://{HOST}:"), url
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_listening(proc: Proc | None, url: str, timeout: float) -> None:
    """Poll until url answers any HTTP status."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise SkipGateway(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            http("GET", url, timeout=2.0)
            return
        except (OSError, urllib.error.URLError) as exc:
            last = exc
            time.sleep(0.2)
    tail = proc.tail() if proc else ""
    raise SkipGateway(f"not listening at {url} after {timeout:.0f}s ({last})\n{tail}")


def chat_request_body() -> bytes:
    # Same shape as wrk_chat.lua sends; used for the preflight check only.
    return json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "system", "content": "preflight"}, {"role": "user", "content": "ping"}],
            "max_tokens": 8,
        }
    ).encode()


def preflight(url: str, headers: dict[str, str], proc: Proc | None, tries: int = 20) -> None:
    """One real chat request through the gateway: must be 200 with a chat.completion."""
    hdrs = {"Content-Type": "application/json", **headers}
    status, data = 0, b""
    for _ in range(tries):
        if proc is not None and not proc.alive():
            raise SkipGateway(f"{proc.name} exited:\n{proc.tail()}")
        try:
            status, data = http("POST", url, hdrs, chat_request_body(), timeout=30.0)
        except (OSError, urllib.error.URLError) as exc:
            status, data = 0, str(exc).encode()
        if status == 200:
            try:
                doc = json.loads(data)
            except ValueError:
                doc = {}
            if isinstance(doc, dict) and doc.get("choices"):
                return
        time.sleep(0.5)
    tail = proc.tail() if proc else ""
    raise SkipGateway(f"preflight POST {url} -> {status} {data[:300]!r}\n{tail}")


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    max_ms: float
    errors: int
    error_detail: dict[str, Any]
    first_bad: str | None
    request_body_bytes: int | None


def run_wrk(
    url: str,
    conns: int,
    seconds: int,
    header_args: list[str],
    *,
    timeout_s: int,
    count_status: bool,
    threads: int,
) -> WrkResult:
    assert url.startswith(f"http://{HOST}:"), url
    threads = max(1, min(threads, conns))
    argv = [
        *pin(CPUS.upstream),
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{seconds}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(LUA),
        url,
        "--",
        f"model={MODEL}",
        *header_args,
    ]
    if count_status:
        argv.append("count-status")
    out = subprocess.run(
        argv, capture_output=True, check=False, text=True, env=child_env(), timeout=seconds + timeout_s + 60
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed rc={out.returncode}\n{out.stdout}\n{out.stderr}")
    doc = json.loads(line[len("BENCH_JSON ") :])
    e = doc["errors"]
    status_errors = doc["non2xx"] if doc["non2xx"] is not None else e["status_ge_400"]
    errors = e["connect"] + e["read"] + e["write"] + e["timeout"] + status_errors
    lat = doc["latency_us"]
    dur = doc["duration_us"] / 1e6
    return WrkResult(
        requests=doc["requests"],
        duration_s=dur,
        rps=doc["requests"] / dur if dur else 0.0,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        p999_ms=lat["p999"] / 1000,
        mean_ms=lat["mean"] / 1000,
        max_ms=lat["max"] / 1000,
        errors=errors,
        error_detail={**e, "non2xx": doc["non2xx"]},
        first_bad=doc["first_bad"],
        request_body_bytes=doc.get("request_body_bytes"),
    )


# --------------------------------------------------------------------------
# upstream + gateways
# --------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise SystemExit("nginx not found: run bench/setup.sh")
    return found


def start_upstream(procs: Procs, workdir: Path) -> tuple[Proc, int]:
    prefix = workdir / "nginx"
    prefix.mkdir()
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (prefix / sub).mkdir()
    body = json.dumps(UPSTREAM_BODY, separators=(",", ":"))
    # nginx would interpret quotes, variables and backslash escapes in the literal
    assert not set(body) & set("'$\\"), body
    port = free_port()
    conf = (
        NGINX_TMPL.read_text()
        .replace("@PREFIX@", str(prefix))
        .replace("@PORT@", str(port))
        .replace("@BODY@", body)
    )
    (prefix / "nginx.conf").write_text(conf)
    proc = procs.start(
        "nginx",
        [
            *pin(CPUS.upstream),
            nginx_binary(),
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            str(prefix / "error.log"),
        ],
    )
    wait_listening(proc, f"http://{HOST}:{port}/health", 15)
    return proc, port


@dataclass
class Leg:
    """One way of reaching the upstream: directly or through a gateway."""

    name: str
    url: str
    headers: dict[str, str]
    proc: Proc | None  # process tree whose CPU is charged to the gateway
    info: dict[str, Any] = field(default_factory=dict)
    # servers the gateway depends on (PostgreSQL, Redis): their CPU is reported apart
    services: list[int] = field(default_factory=list)
    # base URL for the admin API when the leg's metering is verified after the run
    admin: str | None = None
    # the bench's Redis, whose commands per request are counted (the redis leg)
    redis_port: int | None = None

    def header_args(self) -> list[str]:
        return [f"{k}: {v}" for k, v in self.headers.items()]


def start_direct(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    return Leg(
        "direct",
        f"http://{HOST}:{nginx_port}/v1/chat/completions",
        {"Authorization": f"Bearer {UPSTREAM_API_KEY}"},
        None,
        {"version": nginx_version()},
    )


def _pavedroad_cmd(args: argparse.Namespace) -> list[str]:
    exe = Path(args.pavedroad_bin)
    if not exe.exists():
        raise SkipGateway(
            f"{exe} does not exist yet (pavedroad's CLI is not installed in /work/main/.venv); "
            "skipping the pavedroad leg"
        )
    cmd = [str(exe)]
    try:
        help_out = subprocess.run(
            [*cmd, "--help"], capture_output=True, check=False, text=True, timeout=60, env=child_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SkipGateway(f"`pavedroad --help` failed: {exc}") from exc
    said = (help_out.stdout + help_out.stderr).strip()
    if help_out.returncode != 0:
        last = said.splitlines()[-1] if said else ""
        raise SkipGateway(f"`pavedroad --help` failed (rc={help_out.returncode}): {last}\n{said[-1500:]}")
    if "serve" not in help_out.stdout:
        raise SkipGateway("pavedroad CLI has no `serve` command yet:\n" + said[-1500:])
    return cmd


def render_pavedroad_config(
    workdir: Path,
    nginx_port: int,
    template: Path,
    name: str = "pavedroad",
    subs: dict[str, str] | None = None,
) -> Path:
    """Fill in a template's placeholders; <workdir>/<name>/ is the leg's state directory."""
    state = workdir / name
    state.mkdir(exist_ok=True)
    text = (
        template.read_text()
        .replace("@NGINX_PORT@", str(nginx_port))
        .replace("@STATE_DIR@", str(state))
        .replace("@HOST@", HOST)
    )
    for key, value in (subs or {}).items():
        text = text.replace(f"@{key}@", value)
    left = sorted(set(re.findall(r"@([A-Z_]+)@", text)))
    if left:
        raise SkipGateway(f"{template.name}: placeholders not filled in: {', '.join(left)}")
    out = workdir / f"{name}.yaml"
    out.write_text(text)
    return out


def pavedroad_cli(
    cmd: list[str], words: list[str], rest: list[str], cfg: Path, env: dict[str, str], workdir: Path
) -> str:
    """Run `pavedroad <words> --config cfg <rest>`; its stdout, or SkipGateway with the output."""
    argv = [*cmd, *words, "--config", str(cfg), *rest]
    try:
        out = subprocess.run(
            argv,
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
            env=child_env(env),
            cwd=str(workdir),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SkipGateway(f"`pavedroad {' '.join(words + rest)}` failed: {exc}") from exc
    if out.returncode != 0:
        said = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
        raise SkipGateway(
            f"`pavedroad {' '.join(words + rest)}` failed (rc={out.returncode}): "
            f"{said[-1] if said else ''}\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}"
        )
    return out.stdout


def create_pavedroad_key(
    cmd: list[str], cfg: Path, env: dict[str, str], workdir: Path, extra: list[str]
) -> str:
    """A virtual key, created before the server starts, so auth + routing run for real."""
    rest = ["--name", "bench", "--models", MODEL, *extra]
    out = pavedroad_cli(cmd, ["keys", "create"], rest, cfg, env, workdir)
    m = re.search(r"^key:\s*(sk-[A-Za-z0-9_\-]{8,})", out, re.MULTILINE) or re.search(
        r"\bsk-[A-Za-z0-9_\-]{8,}", out
    )
    if not m:
        raise SkipGateway(f"`pavedroad keys create` printed no key:\n{out[-1500:]}")
    return m.group(1) if m.groups() else m.group(0)


def create_metered_org(cmd: list[str], cfg: Path, env: dict[str, str], workdir: Path) -> str:
    """Tenant, team and app with limits; their key with limits; a hard budget on all four.

    Returns the key's secret. Every request with it then takes rpm, tpm and concurrency
    counters of key, app, team and tenant (12) and reserves against 4 budgets.
    """
    team = f"{BENCH_TENANT}/{BENCH_TEAM}"
    app = f"{team}/{BENCH_APP}"
    pavedroad_cli(cmd, ["tenants", "create"], [BENCH_TENANT, *BENCH_LIMITS], cfg, env, workdir)
    pavedroad_cli(cmd, ["teams", "create"], [team, *BENCH_LIMITS], cfg, env, workdir)
    pavedroad_cli(cmd, ["apps", "create"], [app, *BENCH_LIMITS], cfg, env, workdir)
    vkey = create_pavedroad_key(cmd, cfg, env, workdir, ["--app", app, *BENCH_LIMITS])
    for scope, subject in (("key", "bench"), ("app", app), ("team", team), ("tenant", BENCH_TENANT)):
        rest = ["--scope", scope, "--subject", subject, "--amount", BENCH_BUDGET_USD, "--period", "month"]
        pavedroad_cli(cmd, ["budgets", "set"], [*rest, "--hard"], cfg, env, workdir)
    return vkey


def http_with_headers(
    method: str, url: str, headers: dict[str, str], body: bytes | None = None, timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    assert url.startswith(f"http://{HOST}:"), url
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def metered_preflight(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """After the plain preflight: the key's limits must show in the answer's headers."""
    hdrs = {"Content-Type": "application/json", **headers}
    status, got, data = http_with_headers("POST", url, hdrs, chat_request_body())
    if status != 200:
        raise SkipGateway(f"metered preflight POST {url} -> {status} {data[:300]!r}")
    limits = {k: v for k, v in got.items() if k.startswith("x-ratelimit-")}
    if "x-ratelimit-limit-requests" not in limits:
        raise SkipGateway(f"metered preflight: no x-ratelimit-* headers, limits not applied: {got}")
    return {"status": status, "ratelimit_headers": limits}


def start_pavedroad_leg(
    name: str,
    template: Path,
    procs: Procs,
    workdir: Path,
    nginx_port: int,
    args: argparse.Namespace,
    *,
    metered: bool = False,
    subs: dict[str, str] | None = None,
    services: list[int] | None = None,
) -> Leg:
    cmd = _pavedroad_cmd(args)
    cfg = render_pavedroad_config(workdir, nginx_port, template, name, subs)
    env = {"PAVEDROAD_MASTER_KEY": PAVEDROAD_MASTER_KEY}
    if metered:
        vkey = create_metered_org(cmd, cfg, env, workdir)
    else:
        vkey = create_pavedroad_key(cmd, cfg, env, workdir, [])

    port = free_port()
    proc = procs.start(
        name,
        [*pin(CPUS.gateway), *cmd, "serve", "--config", str(cfg), "--host", HOST, "--port", str(port)],
        env=env,
        cwd=workdir,
    )
    base = f"http://{HOST}:{port}"
    wait_listening(proc, f"{base}/", args.start_timeout)
    url = f"{base}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {vkey}"}
    preflight(url, headers, proc)
    version = subprocess.run(
        [*cmd, "--version"], capture_output=True, check=False, text=True, env=child_env()
    ).stdout.strip()
    version = version.rsplit(" ", 1)[-1] if version else "?"
    info: dict[str, Any] = {"version": version, "config": cfg.read_text()}
    if metered:
        info["preflight"] = metered_preflight(url, headers)
    return Leg(name, url, headers, proc, info, services=list(services or []), admin=base if metered else None)


def start_pavedroad(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    return start_pavedroad_leg("pavedroad", Path(args.pavedroad_config), procs, workdir, nginx_port, args)


def start_pavedroad_core(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    return start_pavedroad_leg(CORE, PAVEDROAD_CORE_TMPL, procs, workdir, nginx_port, args)


def start_pavedroad_metered(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    return start_pavedroad_leg(
        "pavedroad-metered", PAVEDROAD_METERED_TMPL, procs, workdir, nginx_port, args, metered=True
    )


def _load_services() -> Any:
    """tests/support/services.py, loaded by path (it needs only the standard library)."""
    if not SERVICES_PY.exists():
        raise SkipGateway(f"{SERVICES_PY} is missing: cannot start PostgreSQL and Redis")
    spec = importlib.util.spec_from_file_location("pavedroad_bench_services", SERVICES_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def pin_tree(root: int, cpu: str) -> None:
    """Pin every thread of a process tree to one CPU (children forked later inherit it)."""
    for pid in tree_pids(root):
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(tid), {int(cpu)})


def _first_line_pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def check_redis_section(cmd: list[str], workdir: Path, nginx_port: int) -> None:
    """SkipGateway unless this pavedroad's config knows `redis:` (asked before starting anything)."""
    name = "pavedroad-redis-probe"
    probe = render_pavedroad_config(
        workdir,
        nginx_port,
        PAVEDROAD_REDIS_TMPL,
        name,
        {"STORE_URL": f"sqlite:///{workdir}/{name}/probe.db", "REDIS_URL": f"redis://{HOST}:6379/0"},
    )
    chk = subprocess.run(
        [*cmd, "config", "check", str(probe)],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env=child_env(),
    )
    if chk.returncode != 0:
        said = (chk.stdout + chk.stderr).strip()
        if re.search(r"\bredis\b", said):
            raise SkipGateway(
                "this pavedroad has no `redis:` config section yet (src/pavedroad/config/models.py); "
                f"`pavedroad config check` says: {' | '.join(said.splitlines()[-3:])}"
            )
        raise SkipGateway(f"`pavedroad config check` of {PAVEDROAD_REDIS_TMPL.name} failed:\n{said[-1500:]}")


@dataclass
class Services:
    store_url: str  # a fresh PostgreSQL database
    redis_url: str
    redis_port: int
    pids: list[int]  # postmaster, redis-server
    info: dict[str, Any]


def start_services(procs: Procs) -> Services:
    """PostgreSQL and Redis as the test suite starts them; stopped and removed at the end."""
    services = _load_services()
    try:
        pg = services.start_postgres()
    except Exception as exc:
        raise SkipGateway(f"PostgreSQL did not start: {exc}") from exc

    def stop_postgres() -> None:
        try:
            pg.stop()
        finally:
            shutil.rmtree(pg.data_dir, ignore_errors=True)

    procs.cleanups.append(("postgresql", stop_postgres))
    try:
        rs = services.start_redis()
    except Exception as exc:
        raise SkipGateway(f"Redis did not start: {exc}") from exc

    def stop_redis() -> None:
        try:
            rs.stop()
        finally:
            shutil.rmtree(rs.pidfile.parent, ignore_errors=True)

    procs.cleanups.append(("redis", stop_redis))
    try:
        store_url = pg.database("pavedroad_bench")
        pg_pid = _first_line_pid(pg.data_dir / "postmaster.pid")
        redis_pid = _first_line_pid(rs.pidfile)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        raise SkipGateway(f"PostgreSQL/Redis setup failed: {exc}") from exc
    if CPUS.enabled:
        # Like the upstream, they are not the gateway: they share CPU 0 with nginx and wrk.
        pin_tree(pg_pid, CPUS.upstream)
        pin_tree(redis_pid, CPUS.upstream)
    log(f"PostgreSQL on {HOST}:{pg.port} (pid {pg_pid}), Redis on {HOST}:{rs.port} (pid {redis_pid})")
    return Services(
        store_url,
        rs.url,
        rs.port,
        [pg_pid, redis_pid],
        {
            "postgresql": {"version": pg.bin_dir.parent.name, "url": store_url, "pid": pg_pid},
            "redis": {"version": _redis_version(), "url": rs.url, "pid": redis_pid},
        },
    )


def start_pavedroad_redis(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    check_redis_section(_pavedroad_cmd(args), workdir, nginx_port)
    sv = start_services(procs)
    leg = start_pavedroad_leg(
        "pavedroad-redis",
        PAVEDROAD_REDIS_TMPL,
        procs,
        workdir,
        nginx_port,
        args,
        metered=True,
        subs={"STORE_URL": sv.store_url, "REDIS_URL": sv.redis_url},
        services=sv.pids,
    )
    # `redis:` accepted by the config is not enough: the preflight requests must have
    # left counters and budget accounts in Redis, else the leg would measure in-process stores.
    try:
        keys = redis_call(sv.redis_port, "DBSIZE")
    except (OSError, RuntimeError) as exc:
        raise SkipGateway(f"Redis did not answer DBSIZE: {exc}") from exc
    if not keys:
        raise SkipGateway(
            "pavedroad accepts the `redis:` config section but wrote nothing to Redis after two "
            "metered requests: its rate-limit counters and budgets are not on Redis yet"
        )
    leg.redis_port = sv.redis_port
    leg.info["services"] = sv.info
    leg.info["services"]["redis"]["keys_after_preflight"] = keys
    return leg


def redis_call(port: int, *words: str, timeout: float = 5.0) -> Any:
    """One command to the bench's Redis (RESP over a socket): integer or string replies."""
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(payload.encode())
        with sock.makefile("rb") as f:
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b":":
                return int(rest)
            if kind == b"+":
                return rest.decode()
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2].decode()
            raise RuntimeError(f"Redis {words[0]}: {line.decode(errors='replace')}")


def redis_calls(port: int | None) -> dict[str, int] | None:
    """Calls per command Redis has served so far (INFO commandstats); None if unknown."""
    if port is None:
        return None
    try:
        text = redis_call(port, "INFO", "commandstats") or ""
    except (OSError, RuntimeError, ValueError):
        return None
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^cmdstat_(\S+?):calls=(\d+)", text, re.M)}


def redis_calls_per_req(
    before: dict[str, int] | None, after: dict[str, int] | None, n: int
) -> dict[str, float]:
    """Redis calls per request by command during a run, largest first (our own INFO left out)."""
    if before is None or after is None:
        return {}
    per = {cmd: (calls - before.get(cmd, 0)) / n for cmd, calls in after.items() if cmd != "info"}
    return {cmd: round(v, 2) for cmd, v in sorted(per.items(), key=lambda kv: -kv[1]) if v > 0}


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, check=False, text=True)
    m = re.search(r"v=(\S+)", out.stdout)
    return m.group(1) if m else out.stdout.strip()


def verify_metering(leg: Leg, wait_s: float = 15.0) -> dict[str, Any]:
    """After the run: ledger rows exist and all four budgets show spend (admin API)."""
    assert leg.admin is not None
    hdrs = {"Authorization": f"Bearer {PAVEDROAD_MASTER_KEY}"}
    deadline = time.monotonic() + wait_s  # the flusher writes every ~0.5 s
    result: dict[str, Any] = {}
    while True:
        problems = []
        try:
            st, body = http("GET", f"{leg.admin}/admin/ledger?limit=1", hdrs, timeout=10)
            ledger = json.loads(body) if st == 200 else None
            st2, body2 = http("GET", f"{leg.admin}/admin/budgets", hdrs, timeout=10)
            budgets = json.loads(body2) if st2 == 200 else None
        except (OSError, urllib.error.URLError, ValueError) as exc:
            ledger = budgets = None
            problems.append(f"admin API: {exc}")
            st = st2 = 0
        rows = _list_in(ledger)
        if ledger is None:
            problems.append(f"GET /admin/ledger -> {st}")
        elif not rows:
            problems.append("no ledger rows")
        items = _list_in(budgets)
        if budgets is None:
            problems.append(f"GET /admin/budgets -> {st2}")
        spent = {f"{b.get('scope')}:{b.get('subject')}": b.get("spent") for b in items if isinstance(b, dict)}
        if budgets is not None:
            if len(spent) < 4:
                problems.append(f"{len(spent)} budgets listed, expected 4")
            for what, value in spent.items():
                if not isinstance(value, (int, float)) or value <= 0:
                    problems.append(f"budget {what} shows no spend ({value})")
        result = {
            "ok": not problems,
            "problems": problems,
            "ledger_first_row": rows[0] if rows else None,
            "budgets_spent_usd": spent,
        }
        if not problems or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _list_in(doc: Any) -> list[Any]:
    """The list in an admin answer: the answer itself, or its `data`/`rows`/`budgets` field."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in ("data", "rows", "budgets", "items"):
            if isinstance(doc.get(key), list):
                return doc[key]
    return []


def start_litellm(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        raise SkipGateway(f"{exe} missing: run bench/setup.sh")
    cfg = workdir / "litellm.yaml"
    # JSON is valid YAML; no PyYAML needed here.
    cfg.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": MODEL,
                        "litellm_params": {
                            "model": f"openai/{MODEL}",
                            "api_base": f"http://{HOST}:{nginx_port}/v1",
                            "api_key": UPSTREAM_API_KEY,
                        },
                    }
                ],
                "general_settings": {"master_key": LITELLM_MASTER_KEY},
            },
            indent=2,
        )
    )
    port = free_port()
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    proc = procs.start(
        "litellm",
        [
            *pin(CPUS.gateway),
            str(exe),
            "--config",
            str(cfg),
            "--host",
            HOST,
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env=env,
        cwd=workdir,
    )
    wait_listening(proc, f"http://{HOST}:{port}/health/liveliness", args.start_timeout)
    url = f"http://{HOST}:{port}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"}
    preflight(url, headers, proc)
    version = subprocess.run(
        [
            str(LITELLM_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        capture_output=True,
        check=False,
        text=True,
        env=child_env(),
    ).stdout.strip()
    return Leg("litellm", url, headers, proc, {"version": version})


def start_portkey(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    node = shutil.which("node")
    if not node or not PORTKEY_JS.exists():
        raise SkipGateway(f"{PORTKEY_JS} or node missing: run bench/setup.sh")
    port = free_port()
    proc = procs.start(
        "portkey",
        [*pin(CPUS.gateway), node, str(PORTKEY_JS), f"--port={port}", "--headless"],
        env={"NODE_ENV": "production"},
        cwd=PORTKEY_DIR,
    )
    wait_listening(proc, f"http://{HOST}:{port}/", args.start_timeout)
    url = f"http://{HOST}:{port}/v1/chat/completions"
    headers = {
        "Authorization": f"Bearer {UPSTREAM_API_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://{HOST}:{nginx_port}/v1",
    }
    preflight(url, headers, proc)
    pkg = PORTKEY_JS.parent.parent / "package.json"
    hono = PORTKEY_DIR / "node_modules" / "@hono" / "node-server" / "package.json"
    info = {"version": json.loads(pkg.read_text()).get("version")}
    if hono.exists():
        info["hono_node_server"] = json.loads(hono.read_text()).get("version")
    return Leg("portkey", url, headers, proc, info)


STARTERS: dict[str, Callable[[Procs, Path, int, argparse.Namespace], Leg]] = {
    "direct": start_direct,
    "pavedroad": start_pavedroad,
    "pavedroad-core": start_pavedroad_core,
    "pavedroad-metered": start_pavedroad_metered,
    "pavedroad-redis": start_pavedroad_redis,
    "litellm": start_litellm,
    "portkey": start_portkey,
}


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, check=False, text=True)
    return (out.stdout + out.stderr).strip().splitlines()[0].split(" [")[0]


def nginx_version() -> str:
    out = subprocess.run([nginx_binary(), "-v"], capture_output=True, check=False, text=True)
    return (out.stderr or out.stdout).strip().split("/")[-1]


# --------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------


@contextlib.contextmanager
def only_running(legs: list[Leg], active: Leg, freeze: bool) -> Iterator[None]:
    """SIGSTOP the idle gateways so they cannot steal CPU 1 from the one measured."""
    frozen = [lg for lg in legs if freeze and lg is not active and lg.proc is not None]
    for lg in frozen:
        assert lg.proc is not None
        lg.proc.freeze()
    try:
        yield
    finally:
        for lg in frozen:
            assert lg.proc is not None
            lg.proc.thaw()


def measure(leg: Leg, upstream: Proc, conns: int, args: argparse.Namespace) -> dict[str, Any]:
    def load(seconds: int) -> WrkResult:
        return run_wrk(
            leg.url,
            conns,
            seconds,
            leg.header_args(),
            timeout_s=args.timeout,
            count_status=not args.no_count_status,
            threads=args.threads,
        )

    if args.warmup > 0:
        load(args.warmup)
    gw0 = tree_cpu_seconds(leg.proc.pid) if leg.proc else 0.0
    mt0 = main_thread_cpu_seconds(leg.proc.pid) if leg.proc else 0.0
    up0 = tree_cpu_seconds(upstream.pid)
    sv0 = sum(tree_cpu_seconds(p) for p in leg.services)
    rc0 = redis_calls(leg.redis_port)
    t0 = time.monotonic()
    res = load(args.duration)
    wall = time.monotonic() - t0
    up1 = tree_cpu_seconds(upstream.pid)
    sv1 = sum(tree_cpu_seconds(p) for p in leg.services)
    rc1 = redis_calls(leg.redis_port)
    gw_cpu = None if leg.proc is None else tree_cpu_seconds(leg.proc.pid) - gw0
    mt_cpu = None if leg.proc is None else main_thread_cpu_seconds(leg.proc.pid) - mt0
    n = max(res.requests, 1)
    row: dict[str, Any] = {
        "gateway": leg.name,
        "conns": conns,
        "requests": res.requests,
        "duration_s": round(res.duration_s, 3),
        "rps": round(res.rps, 1),
        "p50_ms": res.p50_ms,
        "p90_ms": res.p90_ms,
        "p99_ms": res.p99_ms,
        "p999_ms": res.p999_ms,
        "mean_ms": res.mean_ms,
        "max_ms": res.max_ms,
        "errors": res.errors,
        "error_detail": res.error_detail,
        "first_bad": res.first_bad,
        "request_body_bytes": res.request_body_bytes,
        "gateway_cpu_s": None if gw_cpu is None else round(gw_cpu, 3),
        "gateway_cpu_us_per_req": None if gw_cpu is None else round(gw_cpu * 1e6 / n, 1),
        "gateway_cpu_util": None if gw_cpu is None else round(gw_cpu / wall, 3),
        # the part of gateway_cpu_us_per_req spent on the gateway process's main thread
        "gateway_main_thread_cpu_us_per_req": None if mt_cpu is None else round(mt_cpu * 1e6 / n, 1),
        "upstream_cpu_us_per_req": round((up1 - up0) * 1e6 / n, 1),
        # PostgreSQL + Redis of the redis leg (not in gateway_cpu_*)
        "services_cpu_us_per_req": round((sv1 - sv0) * 1e6 / n, 1) if leg.services else None,
        # Redis calls per request during the run, in all and by command (the redis leg)
        "redis_commands_per_req": (
            None if rc0 is None or rc1 is None else round(sum(redis_calls_per_req(rc0, rc1, n).values()), 2)
        ),
        "redis_calls_per_req": redis_calls_per_req(rc0, rc1, n) if leg.redis_port else None,
    }
    if leg.proc is not None and not leg.proc.alive():
        row["died"] = True
    return row


def add_added_latency(rows: list[dict[str, Any]]) -> None:
    direct = {(r["round"], r["conns"]): r for r in rows if r["gateway"] == "direct"}
    for r in rows:
        d = direct.get((r["round"], r["conns"]))
        for p in ("p50", "p90", "p99"):
            r[f"added_{p}_ms"] = None if d is None else round(r[f"{p}_ms"] - d[f"{p}_ms"], 3)


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(rows: list[dict[str, Any]], order: list[str], conns_list: list[int]) -> list[dict[str, Any]]:
    out = []
    for gw in order:
        for c in conns_list:
            rs = [r for r in rows if r["gateway"] == gw and r["conns"] == c]
            if not rs:
                continue
            out.append(
                {
                    "gateway": gw,
                    "conns": c,
                    "rounds": len(rs),
                    "rps": med([r["rps"] for r in rs]),
                    "rps_min": min(r["rps"] for r in rs),
                    "rps_max": max(r["rps"] for r in rs),
                    "p50_ms": med([r["p50_ms"] for r in rs]),
                    "p90_ms": med([r["p90_ms"] for r in rs]),
                    "p99_ms": med([r["p99_ms"] for r in rs]),
                    "added_p50_ms": med([r["added_p50_ms"] for r in rs]),
                    "added_p99_ms": med([r["added_p99_ms"] for r in rs]),
                    "gateway_cpu_us_per_req": med([r["gateway_cpu_us_per_req"] for r in rs]),
                    "upstream_cpu_us_per_req": med([r["upstream_cpu_us_per_req"] for r in rs]),
                    "errors": sum(r["errors"] for r in rs),
                    "requests": sum(r["requests"] for r in rs),
                }
            )
    return out


def ratios(rows: list[dict[str, Any]], summary: list[dict[str, Any]], at: int) -> dict[str, Any]:
    """pavedroad / X throughput at `at` connections: ratio of medians and per round."""
    out: dict[str, Any] = {"conns": at}
    s = {(r["gateway"], r["conns"]): r for r in summary}
    pr = s.get(("pavedroad", at))
    for other in ("litellm", "portkey"):
        o = s.get((other, at))
        if not pr or not o or not o["rps"]:
            out[f"pavedroad_over_{other}"] = None
            continue
        per_round = []
        for rnd in sorted({r["round"] for r in rows}):
            a = [r for r in rows if (r["gateway"], r["conns"], r["round"]) == ("pavedroad", at, rnd)]
            b = [r for r in rows if (r["gateway"], r["conns"], r["round"]) == (other, at, rnd)]
            if a and b and b[0]["rps"]:
                per_round.append(round(a[0]["rps"] / b[0]["rps"], 2))
        out[f"pavedroad_over_{other}"] = round(pr["rps"] / o["rps"], 2)
        out[f"pavedroad_over_{other}_per_round"] = per_round
    return out


MAIN_CPU = "gateway_main_thread_cpu_us_per_req"
REDIS_CALLS = "redis_calls_per_req"


def metering_overhead(rows: list[dict[str, Any]], conns_list: list[int]) -> list[dict[str, Any]]:
    """Each metering leg against pavedroad-core: differences taken in the same round at the
    same conns, then the median over rounds."""
    by = {(r["gateway"], r["conns"], r["round"]): r for r in rows}
    rounds = sorted({r["round"] for r in rows})
    out = []
    for gw in METERING_TARGETS:
        for c in conns_list:
            pairs = [
                (by[(gw, c, rnd)], by[(CORE, c, rnd)])
                for rnd in rounds
                if (gw, c, rnd) in by and (CORE, c, rnd) in by
            ]
            if not pairs:
                continue

            def diff(key: str, ps: list[tuple[dict[str, Any], dict[str, Any]]] = pairs) -> list[float | None]:
                return [
                    None if a[key] is None or b[key] is None else round(a[key] - b[key], 3) for a, b in ps
                ]

            rps, core_rps = med([a["rps"] for a, _ in pairs]), med([b["rps"] for _, b in pairs])
            out.append(
                {
                    "gateway": gw,
                    "conns": c,
                    "rounds": len(pairs),
                    "added_p50_ms": med(diff("p50_ms")),
                    "added_p99_ms": med(diff("p99_ms")),
                    "added_p50_ms_per_round": diff("p50_ms"),
                    "added_p99_ms_per_round": diff("p99_ms"),
                    "rps": rps,
                    "core_rps": core_rps,
                    "rps_over_core": round(rps / core_rps, 3) if rps and core_rps else None,
                    "cpu_us_per_req": med([a["gateway_cpu_us_per_req"] for a, _ in pairs]),
                    "core_cpu_us_per_req": med([b["gateway_cpu_us_per_req"] for _, b in pairs]),
                    "added_cpu_us_per_req": med(diff("gateway_cpu_us_per_req")),
                    "main_thread_cpu_us_per_req": med([a[MAIN_CPU] for a, _ in pairs]),
                    "core_main_thread_cpu_us_per_req": med([b[MAIN_CPU] for _, b in pairs]),
                    "services_cpu_us_per_req": med([a.get("services_cpu_us_per_req") for a, _ in pairs]),
                    "redis_commands_per_req": med([a.get("redis_commands_per_req") for a, _ in pairs]),
                    "redis_calls_per_req": _median_calls([a.get(REDIS_CALLS) or {} for a, _ in pairs]),
                    "errors": sum(a["errors"] for a, _ in pairs),
                }
            )
    return out


def _median_calls(per_round: list[dict[str, float]]) -> dict[str, float]:
    cmds = {c for d in per_round for c in d}
    out = {c: statistics.median(d.get(c, 0.0) for d in per_round) for c in cmds}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def checks(
    summary: list[dict[str, Any]],
    rat: dict[str, Any],
    meter: list[dict[str, Any]] | None = None,
    gateways: list[str] | None = None,
) -> list[dict[str, Any]]:
    s = {(r["gateway"], r["conns"]): r for r in summary}
    out = []

    def add(name: str, value: float | None, target: str, ok: bool | None) -> None:
        out.append(
            {
                "check": name,
                "value": value,
                "target": target,
                "status": "n/a" if ok is None else ("PASS" if ok else "FAIL"),
            }
        )

    p1 = s.get(("pavedroad", 1))
    v = p1["added_p50_ms"] if p1 else None
    add("pavedroad added p50 at 1 conn (ms)", v, "<= 1.0", None if v is None else v <= 1.0)
    p16 = s.get(("pavedroad", 16))
    v = p16["rps"] if p16 else None
    add("pavedroad req/s at 16 conns, one core", v, ">= 1500", None if v is None else v >= 1500)
    v = rat.get("pavedroad_over_litellm")
    add("pavedroad / litellm req/s at 16 conns", v, ">= 10x", None if v is None else v >= 10)
    v = rat.get("pavedroad_over_portkey")
    add("pavedroad / portkey req/s at 16 conns", v, ">= 2x", None if v is None else v >= 2)
    # issue 3: what the full metering path adds over the core, at 1 connection
    m = {(r["gateway"], r["conns"]): r for r in meter or []}
    for gw, target in METERING_TARGETS.items():
        if gw not in (gateways or []):
            continue
        r = m.get((gw, 1))
        v = r["added_p50_ms"] if r else None
        ok = None if v is None else v <= target
        add(f"{gw} added p50 over {CORE} at 1 conn (ms)", v, f"<= {target}", ok)
    return out


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _f(v: float | None, nd: int = 2, signed: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+,.{nd}f}" if signed else f"{v:,.{nd}f}"


def _load(v: list[float] | None) -> str:
    return "—" if not v else "/".join(f"{x:.2f}" for x in v)


def metering_markdown(doc: dict[str, Any]) -> list[str]:
    """Issue 3's row: the full metering path over the gateway core alone."""
    wanted = [g for g in METERING_TARGETS if g in doc["settings"]["gateways"]]
    if not wanted:
        return []
    lines = [
        "",
        f"Metering path over the gateway core ({CORE}: ledger off, no limits, no budgets): "
        "differences in the same round at the same conns, medians over rounds.",
        "",
        "| leg | conns | req/s | core req/s | req/s vs core | added p50 ms | added p99 ms "
        "| CPU µs/req (main thread) | core CPU µs/req (main thread) | PG+Redis CPU µs/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["metering"]:
        ratio = "—" if r["rps_over_core"] is None else f"{r['rps_over_core'] * 100:.0f}%"
        lines.append(
            f"| {r['gateway']} | {r['conns']} | {_f(r['rps'], 0)} | {_f(r['core_rps'], 0)} | {ratio} "
            f"| {_f(r['added_p50_ms'], 3, True)} | {_f(r['added_p99_ms'], 3, True)} "
            f"| {_f(r['cpu_us_per_req'], 0)} ({_f(r['main_thread_cpu_us_per_req'], 0)}) "
            f"| {_f(r['core_cpu_us_per_req'], 0)} ({_f(r['core_main_thread_cpu_us_per_req'], 0)}) "
            f"| {_f(r['services_cpu_us_per_req'], 0)} |"
        )
    if not doc["metering"]:
        lines.append("| (no pair of metering leg and core measured) | | | | | | | | | |")
    redis_use = []
    for r in doc["metering"]:
        if r.get("redis_commands_per_req") is None:
            continue
        calls = r["redis_calls_per_req"]
        scripts = sum(v for c, v in calls.items() if c in ("evalsha", "eval", "fcall"))
        top = ", ".join(f"{c} {v:.2f}" for c, v in list(calls.items())[:6])
        redis_use.append(
            f"- {r['gateway']} at {r['conns']} conns: {r['redis_commands_per_req']:.2f} "
            f"(script calls {scripts:.2f}; most frequent: {top})"
        )
    if redis_use:
        lines += [
            "",
            "Redis commands per request (INFO commandstats; commands run inside scripts count too):",
            *redis_use,
        ]
    lines += ["", "Metering verified after the run (GET /admin/ledger?limit=1, GET /admin/budgets):"]
    for gw in wanted:
        v = doc["metering_verified"].get(gw)
        if v is None:
            why = doc["skipped"].get(gw, "not verified (interrupted, or the leg did not run)")
            lines.append(f"- {gw}: — {why.splitlines()[0] if why else ''}")
            continue
        spent = ", ".join(
            f"{k} ${x:,.4f}" if isinstance(x, (int, float)) else f"{k} {x}"
            for k, x in v["budgets_spent_usd"].items()
        )
        row = v.get("ledger_first_row") or {}
        cost = row.get("cost_usd", row.get("cost_nanousd", "?"))
        first = f"ledger rows present (first: {row.get('request_id', '?')}, cost {cost})"
        if v["ok"]:
            lines.append(f"- {gw}: OK: {first}; budgets spent: {spent}")
        else:
            lines.append(f"- {gw}: FAILED: {'; '.join(v['problems'])}; budgets spent: {spent or '—'}")
    return lines


def markdown(doc: dict[str, Any]) -> str:
    a = doc["settings"]
    lines = [
        f"Gateway benchmark {doc['timestamp']} — {a['rounds']} round(s), {a['duration']} s runs "
        f"after {a['warmup']} s warm-up; medians over rounds; added = gateway - direct, same round "
        f"and conns. Load average (1/5/15 min) at start {_load(doc['machine'].get('loadavg_start'))}, "
        f"at end {_load(doc['machine'].get('loadavg_end'))}.",
        "",
        "| gateway | conns | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["summary"]:
        rps = f"{r['rps']:,.0f}"
        if r["rounds"] > 1:
            rps += f" ({r['rps_min']:,.0f}-{r['rps_max']:,.0f})"
        direct = r["gateway"] == "direct"
        cpu = (
            f"({_f(r['upstream_cpu_us_per_req'], 1)} nginx)" if direct else _f(r["gateway_cpu_us_per_req"], 0)
        )
        lines.append(
            f"| {r['gateway']} | {r['conns']} | {rps} | {_f(r['p50_ms'], 3)} | {_f(r['p99_ms'], 3)} "
            f"| {'—' if direct else _f(r['added_p50_ms'], 3, True)} "
            f"| {'—' if direct else _f(r['added_p99_ms'], 3, True)} | {cpu} "
            f"| {r['errors']:,} / {r['requests']:,} |"
        )
    rat = doc["ratios"]
    lines += ["", f"Throughput ratios at {rat['conns']} conns (median req/s; per round in brackets):"]
    for other in ("litellm", "portkey"):
        v = rat.get(f"pavedroad_over_{other}")
        pr = rat.get(f"pavedroad_over_{other}_per_round", [])
        lines.append(f"- pavedroad / {other}: {_f(v, 2)}x" + (f" {pr}" if pr else ""))
    lines += metering_markdown(doc)
    lines += ["", "Checks for pavedroad:", ""]
    for c in doc["checks"]:
        lines.append(f"- {c['status']}: {c['check']} = {_f(c['value'], 2)} (target {c['target']})")
    if doc["skipped"]:
        lines += ["", "Skipped:"]
        for name, why in doc["skipped"].items():
            lines.append(f"- {name}: {why.splitlines()[0] if why else ''}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    p.add_argument("--duration", type=int, default=15, help="measured seconds per run (default 15)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each run (default 5)")
    p.add_argument("--conns", default="1,16,64", help="connection counts (default 1,16,64)")
    p.add_argument(
        "--only",
        default=",".join(DEFAULT_GATEWAYS),
        help="gateways to run besides direct, which always runs as the baseline "
        f"(default {','.join(DEFAULT_GATEWAYS)}; also "
        f"{','.join(g for g in ALL_GATEWAYS if g != 'direct' and g not in DEFAULT_GATEWAYS)})",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1; wrk shares CPU 0 with nginx)"
    )
    p.add_argument("--timeout", type=int, default=10, help="wrk per-request timeout, seconds (default 10)")
    p.add_argument(
        "--no-count-status",
        action="store_true",
        help="count only wrk's own >=400 status errors (no Lua response() callback)",
    )
    p.add_argument(
        "--no-freeze", action="store_true", help="do not SIGSTOP idle gateways while another one is measured"
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset (for 1-CPU machines)")
    p.add_argument("--start-timeout", type=float, default=180, help="seconds to wait for a gateway to start")
    p.add_argument("--pavedroad-bin", default=str(REPO / ".venv" / "bin" / "pavedroad"))
    p.add_argument(
        "--pavedroad-config",
        default=str(PAVEDROAD_TMPL),
        help="pavedroad config template (@NGINX_PORT@ and @STATE_DIR@ are filled in)",
    )
    p.add_argument("--output", help="results JSON path (default bench/results/gateways-<timestamp>.json)")
    p.add_argument("--keep-workdir", action="store_true", help="keep configs and logs under /tmp")
    a = p.parse_args(argv)
    a.conns_list = [int(c) for c in a.conns.split(",") if c.strip()]
    a.gateways = ["direct"] + [g.strip() for g in a.only.split(",") if g.strip() and g.strip() != "direct"]
    for g in a.gateways:
        if g not in ALL_GATEWAYS:
            p.error(f"unknown gateway {g!r}; choose from {', '.join(ALL_GATEWAYS)}")
    if a.rounds < 1 or a.duration < 1 or a.warmup < 0 or not a.conns_list:
        p.error("need rounds >= 1, duration >= 1, warmup >= 0 and at least one conns value")
    return a


def preflight_tools(args: argparse.Namespace) -> None:
    for tool in ("wrk",) + (() if args.no_pin else ("taskset",)):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: run bench/setup.sh")
    nginx_binary()
    if args.no_pin:
        CPUS.enabled = False
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("need 2 CPUs to pin (nginx+wrk on one, the gateway on the other); or --no-pin")
    CPUS.upstream, CPUS.gateway = str(cpus[0]), str(cpus[1])


def start_legs(
    procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace, skipped: dict[str, str]
) -> list[Leg]:
    legs: list[Leg] = []
    for name in args.gateways:
        log(f"starting {name} ...")
        started, servers = len(procs.items), len(procs.cleanups)
        try:
            leg = STARTERS[name](procs, workdir, nginx_port, args)
        except SkipGateway as exc:
            skipped[name] = str(exc)
            log(f"SKIP {name}: {exc}")
            for proc in procs.items[started:]:  # a skipped gateway must not take CPU from the others
                procs.stop(proc)
            procs.run_cleanups(servers)
            continue
        legs.append(leg)
        where = f" (pid {leg.proc.pid}, CPU {CPUS.gateway})" if leg.proc else ""
        log(f"{name} ready at {leg.url}{where}")
        if leg.proc is not None and not args.no_freeze:
            leg.proc.freeze()  # thawed when its turn comes
    return legs


def run_rounds(
    legs: list[Leg],
    upstream: Proc,
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    skipped: dict[str, str],
) -> None:
    gateways = [lg for lg in legs if lg.name != "direct"]
    direct = next(lg for lg in legs if lg.name == "direct")
    total = args.rounds * len(args.conns_list) * len(legs)
    n = 0
    for rnd in range(1, args.rounds + 1):
        # rotate the gateway order each round so no gateway always runs first
        k = (rnd - 1) % max(len(gateways), 1)
        order = [direct, *gateways[k:], *gateways[:k]]
        for conns in args.conns_list:
            for leg in order:
                n += 1
                if leg.proc is not None and not leg.proc.alive():
                    skipped.setdefault(leg.name, f"died during the run:\n{leg.proc.tail()}")
                    continue
                with only_running(legs, leg, not args.no_freeze):
                    try:
                        row = measure(leg, upstream, conns, args)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        log(f"run {leg.name} c={conns} failed: {exc}")
                        continue
                row["round"] = rnd
                rows.append(row)
                log(
                    f"[{n}/{total}] round {rnd} {leg.name:17s} c={conns:<3d} {row['rps']:>10,.0f} req/s"
                    f"  p50 {row['p50_ms']:.3f} ms  p99 {row['p99_ms']:.3f} ms"
                    f"  cpu/req {_f(row['gateway_cpu_us_per_req'], 0)} us  errors {row['errors']}"
                )
                if row["errors"] and row.get("first_bad"):
                    log(f"    first non-2xx: {row['first_bad']}")


def build_doc(
    args: argparse.Namespace,
    stamp: str,
    interrupted: bool,
    legs: list[Leg],
    rows: list[dict[str, Any]],
    skipped: dict[str, str],
) -> dict[str, Any]:
    add_added_latency(rows)
    summary = summarize(rows, list(args.gateways), args.conns_list)
    rat = ratios(rows, summary, 16)
    meter = metering_overhead(rows, args.conns_list)
    return {
        "timestamp": stamp,
        "interrupted": interrupted,
        "settings": {k: v for k, v in vars(args).items() if k != "conns_list"},
        "machine": {
            "cpus": os.cpu_count(),
            "affinity": sorted(os.sched_getaffinity(0)),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "loadavg_start": LOADAVG.get("start"),
            "loadavg_end": LOADAVG.get("end"),
            "pinning": {"upstream_and_wrk": CPUS.upstream, "gateway": CPUS.gateway} if CPUS.enabled else None,
        },
        "load": {
            "tool": wrk_version(),
            "script": LUA.name,
            "threads": args.threads,
            "request_body_bytes": next((r["request_body_bytes"] for r in rows), None),
        },
        "upstream": {
            "server": f"nginx {nginx_version()}",
            "body_bytes": len(json.dumps(UPSTREAM_BODY, separators=(",", ":"))),
        },
        "gateways": {lg.name: lg.info for lg in legs},
        "skipped": skipped,
        "runs": rows,
        "summary": summary,
        "ratios": rat,
        "metering": meter,
        "metering_verified": {lg.name: lg.info["verified"] for lg in legs if "verified" in lg.info},
        "checks": checks(summary, rat, meter, list(args.gateways)),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preflight_tools(args)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="pavedroad-bench-", dir="/tmp"))
    procs = Procs(workdir)
    rows: list[dict[str, Any]] = []
    legs: list[Leg] = []
    skipped: dict[str, str] = {}

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    interrupted = False
    LOADAVG["start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        log(f"workdir {workdir}")
        try:
            upstream, nginx_port = start_upstream(procs, workdir)
        except SkipGateway as exc:
            raise SystemExit(f"the nginx upstream did not start: {exc}") from exc
        log(f"nginx upstream on {HOST}:{nginx_port} (CPU {CPUS.upstream})")
        legs = start_legs(procs, workdir, nginx_port, args, skipped)
        run_rounds(legs, upstream, args, rows, skipped)
        for leg in legs:
            if leg.admin is not None and leg.proc is not None and leg.proc.alive():
                leg.info["verified"] = v = verify_metering(leg)
                verdict = "OK" if v["ok"] else "FAILED " + "; ".join(v["problems"])
                log(f"{leg.name} metering verified: {verdict}")
    except KeyboardInterrupt as exc:
        interrupted = True
        log(f"interrupted ({exc}); writing partial results")
    finally:
        procs.stop_all()
        if args.keep_workdir:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    LOADAVG["end"] = [round(x, 2) for x in os.getloadavg()]
    doc = build_doc(args, stamp, interrupted, legs, rows, skipped)
    out = Path(args.output) if args.output else RESULTS / f"gateways-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    md = markdown(doc)
    out.with_suffix(".md").write_text(md + "\n")
    print(md)
    log(f"results: {out}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
