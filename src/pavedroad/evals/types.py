"""The scorer contract shared by offline runs, red-team packs and online evaluation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Case:
    """One row of a dataset: what goes in, what is expected, and what it may be grounded on."""

    id: str
    input: Mapping[str, Any]  # prompt variables, or {"messages": [...]}
    expected: Any = None
    contexts: Sequence[str] = ()
    tags: Sequence[str] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Output:
    """What the system under test answered, with what the gateway reported about it."""

    text: str
    status: int = 200
    error_code: str | None = None
    latency_ms: float = 0.0
    cost_usd: float | None = None
    citations: Sequence[Mapping[str, Any]] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Score:
    name: str
    value: float  # 0..1 unless the scorer documents otherwise
    passed: bool
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


class Scorer(Protocol):
    """Scores one output; `cheap` scorers make no model call and may run on live traffic."""

    name: str
    cheap: bool

    async def score(self, case: Case, output: Output) -> Score: ...


@dataclass(frozen=True, slots=True)
class ScorerContext:
    """What a scorer may need besides its parameters: the gateway it judges through (model
    calls from a scorer go through the gateway, so budgets and logs apply to them too)."""

    gateway_url: str = ""
    api_key: str = ""


# (parameters, context) -> a Scorer instance.
ScorerFactory = Callable[[Mapping[str, Any], ScorerContext], Scorer]


@dataclass(frozen=True, slots=True)
class ScorerManifest:
    """A scorer as data: its name, a JSON schema of its parameters, and whether it is cheap
    (no model call), so callers can choose scorers without building them."""

    name: str
    description: str
    factory: ScorerFactory
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    cheap: bool = True

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "cheap": self.cheap,
                "parameters": dict(self.parameters)}
