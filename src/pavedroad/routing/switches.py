"""The kill switch: deployments, models and provider kinds switched off at run time.

The store holds the truth (so every replica and the CLI agree); each gateway keeps this
in-memory copy, refreshed in the background, so checking costs a set lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SwitchScope = Literal["deployment", "model", "provider"]
SCOPES: tuple[SwitchScope, ...] = ("deployment", "model", "provider")


@dataclass(slots=True)
class KillSwitches:
    deployments: frozenset[str] = field(default_factory=frozenset)
    models: frozenset[str] = field(default_factory=frozenset)
    providers: frozenset[str] = field(default_factory=frozenset)

    def replace(self, disabled: set[tuple[str, str]]) -> None:
        self.deployments = frozenset(n for s, n in disabled if s == "deployment")
        self.models = frozenset(n for s, n in disabled if s == "model")
        self.providers = frozenset(n for s, n in disabled if s == "provider")

    def blocks(self, *, deployment: str, provider: str) -> bool:
        return deployment in self.deployments or provider in self.providers
