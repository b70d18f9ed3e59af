"""Rate limits and budgets, assembled once: their stores, stages, routing gate and admin.

The two stores are parameters: the in-process ones are the embedded default, and a shared
implementation of `CounterStore` and `BudgetStore` (Redis) plugs in here for several replicas.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.record import AdminAudit
from pavedroad.budgets.store import BudgetStore, LocalBudgetStore
from pavedroad.config.models import Settings
from pavedroad.core.types import Limits
from pavedroad.limits.counter import CounterStore, LocalCounterStore
from pavedroad.limits.deployment import DeploymentLimiter
from pavedroad.metering.prices import PriceCatalog
from pavedroad.service.background import Background
from pavedroad.service.budget_admin import BudgetAdmin
from pavedroad.service.budgets import BudgetAlerts, BudgetBook, BudgetGuard, RouteCostEstimator
from pavedroad.service.degraded import Degraded
from pavedroad.service.limits import RateLimits
from pavedroad.service.org import OrgDirectory
from pavedroad.service.pipeline import Stage
from pavedroad.store.budgets import BudgetRepository, LedgerSpend
from pavedroad.store.keys import KeyRepository


@dataclass(slots=True)
class Limiting:
    """What exists before routing does: the counters and the deployments' gate."""

    background: Background
    counters: CounterStore
    gate: DeploymentLimiter | None  # None: no deployment has limits
    degraded: Degraded  # what requests do while a shared store is unreachable


def build_limiting(settings: Settings, *, counters: CounterStore | None = None,
                   registry: CollectorRegistry | None = None) -> Limiting:
    background = Background()
    counters = counters or LocalCounterStore()
    degraded = Degraded(registry)
    gate = DeploymentLimiter(
        counters, {d.name: Limits(d.limits.rpm, d.limits.tpm, d.limits.concurrent)
                   for d in settings.deployments}, spawn=background.spawn, unavailable=degraded)
    return Limiting(background, counters, gate if gate else None, degraded)


@dataclass(slots=True)
class Enforcement:
    limiting: Limiting
    budget_store: BudgetStore
    book: BudgetBook
    admin: BudgetAdmin
    stages: list[Stage]  # rate limits, then budgets

    async def refresh(self) -> None:
        await self.book.refresh()

    async def stop(self) -> None:
        await self.limiting.background.drain()


def build_enforcement(
    settings: Settings,
    engine: AsyncEngine,
    directory: OrgDirectory,
    limiting: Limiting,
    *,
    catalog: PriceCatalog,
    registry: CollectorRegistry,
    budget_store: BudgetStore | None = None,
    audit: AdminAudit | None = None,
) -> Enforcement:
    spawn = limiting.background.spawn
    budget_store = budget_store or LocalBudgetStore()
    spend = LedgerSpend(engine)
    repository = BudgetRepository(engine)
    book = BudgetBook(repository, budget_store, spend)
    estimator = RouteCostEstimator({m.name: m for m in settings.models}, catalog,
                                   default_max_tokens=settings.metering.reserve_max_tokens)
    stages: list[Stage] = [
        RateLimits(limiting.counters, spawn=spawn, degraded=limiting.degraded),
        BudgetGuard(book, budget_store, estimator, alerts=BudgetAlerts(registry), spawn=spawn,
                    degraded=limiting.degraded),
    ]
    admin = BudgetAdmin(repository, directory, KeyRepository(engine), spend, book=book,
                        store=budget_store, audit=audit)
    return Enforcement(limiting, budget_store, book, admin, stages)
