"""Metering as the gateway wires it in: the catalog, the meter hook and the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.config.models import Settings
from pavedroad.metering.cost import Meter
from pavedroad.metering.ledger import Ledger, journal_dir_for
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.prices import PriceCatalog
from pavedroad.service.pipeline import ExchangeObserver
from pavedroad.store.ledger import LedgerRepository


@dataclass(slots=True)
class Metering:
    catalog: PriceCatalog
    meter: Meter
    metrics: MeteringMetrics
    repository: LedgerRepository
    ledger: Ledger | None  # None: `metering.ledger.enabled: false`

    @property
    def observers(self) -> list[ExchangeObserver]:
        return [self.ledger.observer] if self.ledger is not None else []

    async def start(self) -> None:
        if self.ledger is not None:
            await self.ledger.start()

    async def stop(self) -> None:
        if self.ledger is not None:
            await self.ledger.stop()


def build_metering(settings: Settings, engine: AsyncEngine,
                   registry: CollectorRegistry) -> Metering:
    config = settings.metering
    catalog = PriceCatalog(settings.deployments, unpriced_reserve_usd=config.unpriced_reserve_usd)
    metrics = MeteringMetrics(registry)
    repository = LedgerRepository(engine)
    ledger = (Ledger(config.ledger, journal_dir_for(settings), settings.store.url, catalog,
                     metrics) if config.ledger.enabled else None)
    return Metering(catalog, Meter(catalog, metrics), metrics, repository, ledger)
