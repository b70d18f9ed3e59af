"""The policy's allow-list as the router sees it: which deployments a request may reach.

The router never learns *why* (risk class, data classification): it gets a filter on the
deployments' own data (the upstream model id or deployment name, and the region) and
applies it to whatever the route plans (single, weighted, fallback), so naming a model
directly or falling back cannot reach a deployment the policy did not approve.
"""

from __future__ import annotations

from dataclasses import dataclass

from pavedroad.routing.deployment import Deployment


@dataclass(frozen=True, slots=True)
class RouteFilter:
    models: frozenset[str] | None = None  # upstream model ids or deployment names; None: any
    regions: frozenset[str] | None = None  # None: any region
    # Replaces the planned route (safe mode's designated deployment); still filtered.
    pinned: tuple[str, ...] = ()

    def admits(self, dep: Deployment) -> bool:
        if self.models is not None and not (dep.config.model in self.models
                                            or dep.name in self.models):
            return False
        return self.regions is None or (dep.config.region or "") in self.regions

    @property
    def open(self) -> bool:
        return self.models is None and self.regions is None and not self.pinned
