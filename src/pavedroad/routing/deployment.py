"""A deployment at run time: its config, its provider instance and its health."""

from __future__ import annotations

from dataclasses import dataclass, field

from pavedroad.config.models import DeploymentConfig
from pavedroad.core.types import Timeouts
from pavedroad.providers.base import Provider
from pavedroad.routing.breaker import Breaker
from pavedroad.routing.latency import LatencyTracker


@dataclass(slots=True, eq=False)
class Deployment:
    config: DeploymentConfig
    provider: Provider
    breaker: Breaker
    latency: LatencyTracker = field(default_factory=LatencyTracker)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def provider_kind(self) -> str:
        return self.config.provider

    @property
    def timeouts(self) -> Timeouts:
        t = self.config.timeouts
        return Timeouts(connect=t.connect, first_token=t.first_token, total=t.total)
