"""Small detectors for testing the guardrail stages, registered through the plugin
registry the way real guardrails are (the real PII/injection detectors have their own
tests)."""

from __future__ import annotations

import re
from typing import Any

from pavedroad.guardrails.base import Finding, Manifest, ScanContext
from pavedroad.plugins.registry import PluginRegistry, load_registry

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


class EmailDetector:
    manifest = Manifest("t-email", "emails, with spans", ("input", "output"), "fast",
                        redacts=True)

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def scan(self, text: str, context: ScanContext) -> list[Finding]:
        return [Finding("t-email", "EMAIL", 0.99, m.start(), m.end())
                for m in _EMAIL.finditer(text)]


class InjectionDetector:
    manifest = Manifest("t-injection", "a phrase", ("input",), "fast")

    def __init__(self, params: dict[str, Any]) -> None:
        self.threshold = float(params.get("threshold", 0.5))

    def scan(self, text: str, context: ScanContext) -> list[Finding]:
        score = 0.9 if "ignore previous instructions" in text.lower() else 0.0
        if context.source == "tool" and "tool says ignore" in text.lower():
            score = 0.8
        if score < self.threshold:
            return []
        return [Finding("t-injection", "PROMPT_INJECTION", score,
                        detail=f"source {context.source}")]


class SecretDetector:
    manifest = Manifest("t-secret", "the word SECRETWORD", ("output",), "fast", redacts=True)

    def __init__(self, params: dict[str, Any]) -> None:
        pass

    def scan(self, text: str, context: ScanContext) -> list[Finding]:
        return [Finding("t-secret", "SECRET", 1.0, m.start(), m.end())
                for m in re.finditer("SECRETWORD", text)]


def guardrail_registry() -> PluginRegistry:
    registry = load_registry(include_entry_points=False)
    for name, factory in (("t-email", EmailDetector), ("t-injection", InjectionDetector),
                          ("t-secret", SecretDetector)):
        if name not in registry.guardrails:
            registry.register_guardrail(name, factory)
    return registry


TEST_POLICY = """
version: "test-1"
defaults: {logging: full, retention_days: 30}
rules:
  - id: limited
    description: limited redacts emails and flags injection
    when: app.risk_class == "limited"
    guardrails:
      input:
        t-email: {action: redact, mode: placeholder}
        t-injection: {action: flag, params: {threshold: 0.5}}
      output:
        t-email: {action: redact, mode: placeholder}
        t-secret: {action: block}
    logging: redacted
  - id: high
    description: high pseudonymises, blocks injection, approved models only
    when: app.risk_class == "high"
    models: [up-approved]
    regions: [eu-west-1]
    guardrails:
      input:
        t-email: {action: redact, mode: pseudonymise}
        t-injection: {action: block, params: {threshold: 0.5}}
    retention_days: 365
  - id: incident-42
    when: app.name == "policy-safe"
    safe_mode: true
  - id: fast-tier-only
    when: app.name == "tiered"
    tiers: [good]
  - id: no-shell-tool
    when: '"shell" in request.tools && app.risk_class != "minimal"'
    deny: the shell tool needs a minimal-risk app
"""
