"""The plugin hooks. Built-in providers register through the same entry point group as
third-party ones (`pavedroad.plugins`), so a plugin has no second-class path."""

from pavedroad.plugins.registry import PluginRegistry, ProviderFactory, load_registry

__all__ = ["PluginRegistry", "ProviderFactory", "load_registry"]
