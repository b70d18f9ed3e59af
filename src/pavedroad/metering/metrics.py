"""Metering's Prometheus metrics, registered on the gateway's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class MeteringMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.unpriced = Counter(
            "pavedroad_unpriced_requests",
            "Requests served by a deployment with no price: their cost is unknown, not zero.",
            ["deployment"], registry=registry)
        self.cost = Counter(
            "pavedroad_cost_usd", "Cost of answered requests in USD, by model and deployment.",
            ["model", "deployment"], registry=registry)
        self.estimated = Counter(
            "pavedroad_estimated_usage_requests",
            "Requests whose tokens were estimated because the provider reported no usage.",
            ["deployment"], registry=registry)
        self.journal_pending = Gauge(
            "pavedroad_ledger_pending_bytes",
            "Journal bytes written but not yet flushed to the store.", registry=registry)
        self.flushed = Counter(
            "pavedroad_ledger_flushed_records", "Journal records written to the store.",
            registry=registry)
        self.flush_failures = Counter(
            "pavedroad_ledger_flush_failures",
            "Flushes that failed (the store was unreachable); the journal keeps the records.",
            registry=registry)
        self.journal_errors = Counter(
            "pavedroad_ledger_journal_errors",
            "Records that could not be written to, or read back from, the journal.",
            registry=registry)
