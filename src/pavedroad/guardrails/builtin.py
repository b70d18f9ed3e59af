"""Registers the built-in guardrails, exactly as a third-party plugin would."""

from __future__ import annotations

from pavedroad.guardrails import injection, pii, topics
from pavedroad.plugins.registry import PluginRegistry


def register(registry: PluginRegistry) -> None:
    registry.register_guardrail("prompt_injection", injection.build)
    registry.register_guardrail("denied_topics", topics.build)
    registry.register_guardrail("pii", pii.factory)
