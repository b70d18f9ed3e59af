"""Registers the built-in provider kinds, exactly as a third-party plugin would."""

from __future__ import annotations

from pavedroad.plugins.registry import PluginRegistry
from pavedroad.providers import anthropic, grounded, openai


def register(registry: PluginRegistry) -> None:
    registry.register_provider("openai", openai.openai)
    registry.register_provider("openai_compatible", openai.openai_compatible)
    registry.register_provider("azure_openai", openai.azure_openai)
    registry.register_provider("anthropic", anthropic.anthropic)
    registry.register_provider("grounded", grounded.grounded)
