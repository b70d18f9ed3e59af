"""Prompt-injection and jailbreak detection for direct and indirect input (offline, CPU only)."""

from pavedroad.guardrails.injection.detector import (
    DEFAULT_THRESHOLD,
    MANIFEST,
    Assessment,
    PromptInjectionGuardrail,
    assess,
    build,
)

__all__ = ["DEFAULT_THRESHOLD", "MANIFEST", "Assessment", "PromptInjectionGuardrail", "assess", "build"]
