"""The kill switch and safe mode: what is switched off, or answering safely, at run time.

The store holds the truth (so every replica and the CLI agree); each gateway keeps this
in-memory copy, refreshed in the background, so checking costs a set lookup. Scopes:
deployments, models, provider kinds, apps (by id) and `global` (the name `all`). Safe
mode rows share the table with the scope prefixed `safe:` (docs/adr/0010).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SwitchScope = Literal["deployment", "model", "provider", "app", "global"]
SCOPES: tuple[SwitchScope, ...] = ("deployment", "model", "provider", "app", "global")
SAFE_SCOPES: tuple[SwitchScope, ...] = ("model", "provider", "app", "global")
SAFE_PREFIX = "safe:"
GLOBAL_NAME = "all"


@dataclass(slots=True)
class KillSwitches:
    deployments: frozenset[str] = field(default_factory=frozenset)
    models: frozenset[str] = field(default_factory=frozenset)
    providers: frozenset[str] = field(default_factory=frozenset)
    apps: frozenset[str] = field(default_factory=frozenset)
    everything: bool = False
    # Safe mode, by scope: which apps, models and provider kinds answer safely.
    safe: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def replace(self, disabled: set[tuple[str, str]]) -> None:
        self.deployments = frozenset(n for s, n in disabled if s == "deployment")
        self.models = frozenset(n for s, n in disabled if s == "model")
        self.providers = frozenset(n for s, n in disabled if s == "provider")
        self.apps = frozenset(n for s, n in disabled if s == "app")
        self.everything = any(s == "global" for s, _ in disabled)
        self.safe = frozenset((s.removeprefix(SAFE_PREFIX), n) for s, n in disabled
                              if s.startswith(SAFE_PREFIX))

    def blocks(self, *, deployment: str, provider: str) -> bool:
        return deployment in self.deployments or provider in self.providers

    def app_off(self, app_id: str | None) -> bool:
        return self.everything or (app_id is not None and app_id in self.apps)

    def safe_mode(self, *, app: str | None, model: str, providers: frozenset[str],
                  ) -> tuple[str, str] | None:
        """The most specific safe-mode scope that applies (app > model > provider >
        global), or None."""
        if not self.safe:
            return None
        if app is not None and ("app", app) in self.safe:
            return ("app", app)
        if ("model", model) in self.safe:
            return ("model", model)
        for provider in sorted(providers):
            if ("provider", provider) in self.safe:
                return ("provider", provider)
        if ("global", GLOBAL_NAME) in self.safe:
            return ("global", GLOBAL_NAME)
        return None
