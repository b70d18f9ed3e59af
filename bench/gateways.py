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
RESULTS = BENCH / "results"
LITELLM_VENV = BENCH / ".venvs" / "litellm"
PORTKEY_DIR = BENCH / ".portkey"
PORTKEY_JS = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"

HOST = "127.0.0.1"  # the only address this script ever talks to
MODEL = "bench-model"
PAVEDROAD_MASTER_KEY = "sk-bench-master"
LITELLM_MASTER_KEY = "sk-bench-litellm"
UPSTREAM_API_KEY = "sk-bench-upstream"  # forwarded to nginx, which ignores it
ALL_GATEWAYS = ("direct", "pavedroad", "litellm", "portkey")

CLK_TCK = os.sysconf("SC_CLK_TCK")


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
    if exe.exists():
        return [str(exe)]
    raise SkipGateway(
        f"{exe} does not exist yet (pavedroad's CLI is not installed in /work/main/.venv); "
        "skipping the pavedroad leg"
    )


def render_pavedroad_config(workdir: Path, nginx_port: int, template: Path) -> Path:
    state = workdir / "pavedroad"
    state.mkdir(exist_ok=True)
    text = (
        template.read_text()
        .replace("@NGINX_PORT@", str(nginx_port))
        .replace("@STATE_DIR@", str(state))
        .replace("@HOST@", HOST)
    )
    out = workdir / "pavedroad.yaml"
    out.write_text(text)
    return out


def start_pavedroad(procs: Procs, workdir: Path, nginx_port: int, args: argparse.Namespace) -> Leg:
    cmd = _pavedroad_cmd(args)
    try:
        help_out = subprocess.run(
            [*cmd, "--help"], capture_output=True, check=False, text=True, timeout=60, env=child_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SkipGateway(f"`pavedroad --help` failed: {exc}") from exc
    if help_out.returncode != 0 or "serve" not in help_out.stdout:
        raise SkipGateway(
            "pavedroad CLI has no `serve` command yet:\n" + (help_out.stdout + help_out.stderr)[-1500:]
        )
    cfg = render_pavedroad_config(workdir, nginx_port, Path(args.pavedroad_config))
    env = {"PAVEDROAD_MASTER_KEY": PAVEDROAD_MASTER_KEY}

    # A virtual key, created before the server starts, so auth + routing run for real.
    keys = subprocess.run(
        [*cmd, "keys", "create", "--config", str(cfg), "--name", "bench", "--models", MODEL],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env=child_env(env),
        cwd=str(workdir),
    )
    m = re.search(r"\bsk-[A-Za-z0-9_\-]{8,}", keys.stdout)
    if keys.returncode != 0 or not m:
        raise SkipGateway(
            f"`pavedroad keys create` failed (rc={keys.returncode}):\n"
            f"{keys.stdout[-1500:]}\n{keys.stderr[-1500:]}"
        )
    vkey = m.group(0)

    port = free_port()
    proc = procs.start(
        "pavedroad",
        [*pin(CPUS.gateway), *cmd, "serve", "--config", str(cfg), "--host", HOST, "--port", str(port)],
        env=env,
        cwd=workdir,
    )
    wait_listening(proc, f"http://{HOST}:{port}/", args.start_timeout)
    url = f"http://{HOST}:{port}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {vkey}"}
    preflight(url, headers, proc)
    version = subprocess.run(
        [*cmd, "--version"], capture_output=True, check=False, text=True, env=child_env()
    ).stdout.strip()
    version = version.rsplit(" ", 1)[-1] if version else "?"
    return Leg("pavedroad", url, headers, proc, {"version": version, "config": cfg.read_text()})


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
    up0 = tree_cpu_seconds(upstream.pid)
    t0 = time.monotonic()
    res = load(args.duration)
    wall = time.monotonic() - t0
    up1 = tree_cpu_seconds(upstream.pid)
    gw_cpu = None if leg.proc is None else tree_cpu_seconds(leg.proc.pid) - gw0
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
        "upstream_cpu_us_per_req": round((up1 - up0) * 1e6 / n, 1),
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


def checks(summary: list[dict[str, Any]], rat: dict[str, Any]) -> list[dict[str, Any]]:
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
    return out


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _f(v: float | None, nd: int = 2, signed: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+,.{nd}f}" if signed else f"{v:,.{nd}f}"


def markdown(doc: dict[str, Any]) -> str:
    a = doc["settings"]
    lines = [
        f"Gateway benchmark {doc['timestamp']} — {a['rounds']} round(s), {a['duration']} s runs "
        f"after {a['warmup']} s warm-up; medians over rounds; added = gateway - direct, same round "
        f"and conns.",
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
        default=",".join(ALL_GATEWAYS[1:]),
        help="gateways to run besides direct, which always runs as the baseline "
        "(default pavedroad,litellm,portkey)",
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
        try:
            leg = STARTERS[name](procs, workdir, nginx_port, args)
        except SkipGateway as exc:
            skipped[name] = str(exc)
            log(f"SKIP {name}: {exc}")
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
                    f"[{n}/{total}] round {rnd} {leg.name:9s} c={conns:<3d} {row['rps']:>10,.0f} req/s"
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
    return {
        "timestamp": stamp,
        "interrupted": interrupted,
        "settings": {k: v for k, v in vars(args).items() if k != "conns_list"},
        "machine": {
            "cpus": os.cpu_count(),
            "affinity": sorted(os.sched_getaffinity(0)),
            "kernel": platform.release(),
            "python": platform.python_version(),
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
        "checks": checks(summary, rat),
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
    try:
        log(f"workdir {workdir}")
        try:
            upstream, nginx_port = start_upstream(procs, workdir)
        except SkipGateway as exc:
            raise SystemExit(f"the nginx upstream did not start: {exc}") from exc
        log(f"nginx upstream on {HOST}:{nginx_port} (CPU {CPUS.upstream})")
        legs = start_legs(procs, workdir, nginx_port, args, skipped)
        run_rounds(legs, upstream, args, rows, skipped)
    except KeyboardInterrupt as exc:
        interrupted = True
        log(f"interrupted ({exc}); writing partial results")
    finally:
        procs.stop_all()
        if args.keep_workdir:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

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
