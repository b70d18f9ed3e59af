"""What plugins can register, and how they are discovered.

A plugin is a module with `register(registry: PluginRegistry) -> None`, named under the
`pavedroad.plugins` entry point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from pydantic import SecretStr

from pavedroad.config.models import DeploymentConfig
from pavedroad.evals.types import ScorerManifest

# (deployment config, resolved api key, transport) -> a Provider instance.
ProviderFactory = Callable[[DeploymentConfig, SecretStr | None, Any], Any]

BUILTIN_PLUGINS = ("pavedroad.providers.builtin",)


# (parameters from config/policy) -> a Guardrail instance.
GuardrailFactory = Callable[[dict[str, Any]], Any]


class PluginRegistry:
    def __init__(self) -> None:
        self.providers: dict[str, ProviderFactory] = {}
        self.guardrails: dict[str, GuardrailFactory] = {}
        self.scorers: dict[str, ScorerManifest] = {}

    def register_scorer(self, manifest: ScorerManifest) -> None:
        """Evaluation scorers (docs/adr/0017): a manifest with the factory and its
        parameter schema."""
        if manifest.name in self.scorers:
            raise ValueError(f"scorer {manifest.name!r} is registered twice")
        self.scorers[manifest.name] = manifest

    def scorer(self, name: str) -> ScorerManifest:
        try:
            return self.scorers[name]
        except KeyError:
            known = ", ".join(sorted(self.scorers))
            raise LookupError(f"unknown scorer {name!r} (known: {known})") from None

    def register_guardrail(self, name: str, factory: GuardrailFactory) -> None:
        if name in self.guardrails:
            raise ValueError(f"guardrail {name!r} is registered twice")
        self.guardrails[name] = factory

    def guardrail_factory(self, name: str) -> GuardrailFactory:
        try:
            return self.guardrails[name]
        except KeyError:
            known = ", ".join(sorted(self.guardrails))
            raise LookupError(f"unknown guardrail {name!r} (known: {known})") from None

    def register_provider(self, kind: str, factory: ProviderFactory) -> None:
        if kind in self.providers:
            raise ValueError(f"provider kind {kind!r} is registered twice")
        self.providers[kind] = factory

    def provider_factory(self, kind: str) -> ProviderFactory:
        try:
            return self.providers[kind]
        except KeyError:
            known = ", ".join(sorted(self.providers))
            raise LookupError(f"unknown provider {kind!r} (known: {known})") from None


def load_registry(*, include_entry_points: bool = True) -> PluginRegistry:
    """The built-ins plus every installed plugin."""
    registry = PluginRegistry()
    loaded: set[str] = set()
    for name in BUILTIN_PLUGINS:
        importlib.import_module(name).register(registry)
        loaded.add(name)
    if include_entry_points:
        for point in entry_points(group="pavedroad.plugins"):
            if point.value in loaded:
                continue
            module = point.load()
            module.register(registry)
            loaded.add(point.value)
    return registry
