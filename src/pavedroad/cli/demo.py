"""The settings `pavedroad up` runs with: a labelled demo deployment on the simulated
provider, plus whichever real providers the environment configures."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pavedroad.config.loader import load_settings
from pavedroad.config.models import Settings

STATE_DIR = Path(".pavedroad")
GROUNDED_MODEL = "pavedroad/grounded"
GROUNDED_DEPLOYMENT: dict[str, Any] = {
    "name": "grounded-handbook", "provider": "grounded", "model": "handbook",
    "labels": {"note": "answers only by quoting the handbook collection"},
    "pricing": {"input": 0, "output": 0},
}


def demo_settings(*, sim_port: int, env: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if env is None else env
    deployments: list[dict[str, Any]] = [{
        "name": "demo-sim", "provider": "openai_compatible", "model": "demo-model",
        "api_base": f"http://127.0.0.1:{sim_port}/v1",
        "labels": {"demo": "true", "note": "simulated provider: canned answers, not a real LLM"},
        "pricing": {"input": 0, "output": 0},  # simulated: free, and priced so explicitly
    }, {**GROUNDED_DEPLOYMENT}]
    tiers: dict[str, list[str]] = {"fast": [], "balanced": [], "reasoning": []}
    if environ.get("OPENAI_API_KEY"):
        deployments += [
            {"name": "openai-mini", "provider": "openai", "model": "gpt-4o-mini",
             "api_key": "env:OPENAI_API_KEY"},
            {"name": "openai-4o", "provider": "openai", "model": "gpt-4o",
             "api_key": "env:OPENAI_API_KEY"},
        ]
        tiers["fast"].append("openai-mini")
        tiers["balanced"].append("openai-4o")
        tiers["reasoning"].append("openai-4o")
    if environ.get("ANTHROPIC_API_KEY"):
        deployments += [
            {"name": "anthropic-haiku", "provider": "anthropic", "model": "claude-3-5-haiku-latest",
             "api_key": "env:ANTHROPIC_API_KEY"},
            {"name": "anthropic-sonnet", "provider": "anthropic",
             "model": "claude-sonnet-4-20250514", "api_key": "env:ANTHROPIC_API_KEY"},
        ]
        tiers["fast"].append("anthropic-haiku")
        tiers["balanced"].append("anthropic-sonnet")
        tiers["reasoning"].append("anthropic-sonnet")
    if environ.get("OLLAMA_HOST"):
        host = environ["OLLAMA_HOST"]
        host = host if host.startswith("http") else f"http://{host}"
        deployments.append({"name": "ollama", "provider": "openai_compatible",
                            "model": environ.get("OLLAMA_MODEL", "llama3.2"),
                            "api_base": f"{host.rstrip('/')}/v1"})
        tiers["fast"].append("ollama")
    models: list[dict[str, Any]] = [
        {"name": "demo", "route": "demo-sim", "description": "DEMO: the simulated provider"},
    ]
    for tier, names in tiers.items():
        models.append({"name": tier, "route": {"fallback": [*names, "demo-sim",
                                                            GROUNDED_DEPLOYMENT["name"]]},
                       "description": f"{tier} tier (falls back to the demo deployment)"})
    # The grounded model answers from the bundled handbook: the cheapest tier, the last
    # fallback of every tier, and where safe mode sends requests (docs/adr/0015).
    models += [
        {"name": GROUNDED_MODEL, "route": GROUNDED_DEPLOYMENT["name"],
         "description": "quotes the bundled docs (the handbook collection), with citations"},
        {"name": "cheapest", "route": GROUNDED_DEPLOYMENT["name"],
         "description": "cheapest tier: the grounded model, free and offline"},
    ]
    overrides: dict[tuple[str | int, ...], Any] = {
        ("deployments",): deployments, ("models",): models,
        ("safe_mode", "default"): {"deployment": GROUNDED_DEPLOYMENT["name"]}}
    return load_settings(None, env=environ, overrides=overrides)


def master_key(env: Mapping[str, str] | None = None) -> str:
    """PAVEDROAD_MASTER_KEY, else one generated once and kept in .pavedroad/master-key."""
    environ = os.environ if env is None else env
    if environ.get("PAVEDROAD_MASTER_KEY"):
        return environ["PAVEDROAD_MASTER_KEY"]
    path = STATE_DIR / "master-key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    STATE_DIR.mkdir(exist_ok=True)
    key = "sk-pr-admin-" + secrets.token_urlsafe(24)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key
