#!/usr/bin/env bash
# Idempotent setup for bench/gateways.py.
#   - nginx + wrk from Debian (apt-get) if missing
#   - LiteLLM proxy in its own virtualenv: bench/.venvs/litellm
#   - Portkey gateway via npm into bench/.portkey
# Everything the benchmark installs lives under bench/ (except the apt packages).
# Re-running skips whatever is already in place. Set BENCH_SKIP_LITELLM=1 or
# BENCH_SKIP_PORTKEY=1 to leave one out.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LITELLM_SPEC="${LITELLM_SPEC:-litellm[proxy]}"
PORTKEY_SPEC="${PORTKEY_SPEC:-@portkey-ai/gateway}"
PY="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*"; }

# --- nginx + wrk ------------------------------------------------------------
need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v taskset >/dev/null 2>&1 || need_apt+=(util-linux)
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "need root to apt-get install ${need_apt[*]}"; exit 1
    fi
    log "apt-get install ${need_apt[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_apt[@]}"
fi
# Debian's nginx package may start a system instance on :80; the benchmark
# runs its own instance under /tmp and never uses the system one.
log "nginx: $( (nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1) | head -1 )"
log "wrk:   $(command -v wrk)"

# --- LiteLLM (own venv) -----------------------------------------------------
if [ "${BENCH_SKIP_LITELLM:-0}" != "1" ]; then
    VENV="$HERE/.venvs/litellm"
    if [ ! -x "$VENV/bin/litellm" ]; then
        log "creating $VENV"
        "$PY" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet "$LITELLM_SPEC"
    fi
    log "litellm: $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
fi

# --- Portkey gateway (npm) --------------------------------------------------
if [ "${BENCH_SKIP_PORTKEY:-0}" != "1" ]; then
    PK="$HERE/.portkey"
    mkdir -p "$PK"
    if [ ! -f "$PK/package.json" ]; then
        # @hono/node-server is pinned to 1.13.8: newer releases made the
        # gateway's streaming answer HTTP 500 (see /work/shared/ANCHORS.md).
        cat > "$PK/package.json" <<'JSON'
{
  "name": "pavedroad-bench-portkey",
  "private": true,
  "version": "0.0.0",
  "description": "Portkey gateway installed for pavedroad's gateway benchmark",
  "dependencies": {},
  "overrides": {
    "@hono/node-server": "1.13.8"
  }
}
JSON
    fi
    if [ ! -f "$PK/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
        log "npm install $PORTKEY_SPEC into $PK"
        (cd "$PK" && npm install --no-audit --no-fund --loglevel=error "$PORTKEY_SPEC")
    fi
    log "portkey: $(node -p "require('$PK/node_modules/@portkey-ai/gateway/package.json').version")"
    log "@hono/node-server: $(node -p "require('$PK/node_modules/@hono/node-server/package.json').version" 2>/dev/null || echo '?')"
fi

log "done"
