"""The check routing makes before each attempt on a deployment: is it within its own limits?

A deployment at its limit is skipped like one with an open breaker (`name:rate_limited` in
the route header) and routing falls back. The router knows only this protocol; the limits
package implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pavedroad.core.types import ChatRequest, EmbeddingRequest, Usage


class Permit(Protocol):
    """Leave to call a deployment; closed exactly once when the attempt is over."""

    def close(self, usage: Usage | None) -> None:
        """The attempt ended: `usage` is what the upstream reported (None: unknown)."""
        ...


@dataclass(slots=True, frozen=True)
class Busy:
    """The deployment is at its limit; it could take the call in `retry_after` seconds."""

    retry_after: float


class DeploymentGate(Protocol):
    async def admit(
        self, deployment: str, request: ChatRequest | EmbeddingRequest, *, holder: str
    ) -> Permit | Busy: ...
