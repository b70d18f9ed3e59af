"""SLO burn-rate and cost-anomaly alerts: watch finished requests, evaluate, notify.

The observer side costs a few dictionary operations per request; evaluation runs every
`telemetry.alerts.evaluate_seconds` in the background, and an alert is stored and sent to
the webhook only when its condition starts or stops (docs/adr/0021). Each gateway judges
the traffic it served; replicas behind a balancer see the same shape of traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from pavedroad.config.telemetry import (
    AlertsConfig,
    BurnWindowConfig,
    SLOConfig,
    TelemetryConfig,
)
from pavedroad.core.errors import all_error_classes
from pavedroad.core.ids import new_id
from pavedroad.service.pipeline import Exchange
from pavedroad.store.alerts import AlertRecord, AlertRepository
from pavedroad.telemetry.webhook import WebhookNotifier
from pavedroad.telemetry.windows import RollingSeries, burn_rate, spend_anomaly

log = logging.getLogger("pavedroad.alerts")

# Outcomes that spend the availability budget: the platform or an upstream failed. A
# caller's mistake, a budget or a guardrail doing its job is not unavailability.
SERVER_FAILURES = frozenset(
    {c.code for c in all_error_classes() if c.http_status >= 500} | {"internal_error"})


@dataclass(slots=True)
class _Objective:
    name: str  # availability | latency
    target: float
    latency_s: float | None = None


# The columns of a watch's series: every request, the ones that failed, the ones that
# succeeded, and those of them slower than the SLO's latency threshold. Latency is judged
# on successful requests only: a failure already spends the availability budget.
_TOTAL, _FAILED, _OK, _SLOW = range(4)


@dataclass(slots=True)
class _Watch:
    """One app under one SLO: its request counts."""

    app_id: str
    app: str
    tenant_id: str | None
    objectives: list[_Objective]
    series: RollingSeries


@dataclass(slots=True)
class _Spend:
    app_id: str
    app: str
    tenant_id: str | None
    series: RollingSeries


@dataclass(slots=True)
class Condition:
    """An alert condition that holds right now."""

    fingerprint: str
    kind: str
    severity: str
    app_id: str
    app: str
    tenant_id: str | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def _objectives(slo: SLOConfig) -> list[_Objective]:
    out = []
    if slo.availability is not None:
        out.append(_Objective("availability", slo.availability))
    if slo.latency_ms is not None:
        out.append(_Objective("latency", slo.latency_target, slo.latency_ms / 1000))
    return out


class AlertMonitor:
    """Sees every finished exchange; knows which alert conditions hold."""

    def __init__(self, config: TelemetryConfig, *, clock: Callable[[], float] = time.time,
                 registry: CollectorRegistry | None = None) -> None:
        self._config = config.alerts
        self._slos = config.slos
        self._clock = clock
        windows = self._config.burn_windows
        self._bucket = max(0.05, min(w.short_seconds for w in windows) / 10)
        self._horizon = max(w.long_seconds for w in windows)
        self._watches: dict[tuple[str, int], _Watch] = {}
        self._spend: dict[str, _Spend] = {}
        self._slos_for: dict[str, list[int]] = {}  # app id -> indexes into self._slos
        self.burn = Gauge("pavedroad_slo_burn_rate", "Error-budget burn rate per app, objective "
                          "and window (1 = spending exactly the budget).",
                          ["app", "objective", "window"], registry=registry)

    # -- observer: runs when each request ends --------------------------------------------

    def answering(self, exchange: Exchange) -> None:
        pass

    def ended(self, exchange: Exchange) -> None:
        app = exchange.request.caller.app
        if app is None:
            return
        now = self._clock()
        tenant = exchange.request.caller.tenant
        tenant_id = tenant.id if tenant is not None else None
        slos = self._slos_for.get(app.id)
        if slos is None:
            slos = self._slos_for[app.id] = [
                i for i, slo in enumerate(self._slos) if slo.app in ("*", app.id, app.name)]
        if slos:
            seconds = time.perf_counter() - exchange.started
            failed = exchange.outcome in SERVER_FAILURES
            ok = exchange.outcome == "ok"
            for index in slos:
                watch = self._watch(index, app.id, app.name, tenant_id, now)
                limit = self._slos[index].latency_ms
                slow = ok and limit is not None and seconds * 1000 > limit
                watch.series.add(now, (1.0, float(failed), float(ok), float(slow)))
        anomaly = self._config.cost_anomaly
        if anomaly.enabled and exchange.cost:
            spend = self._spend.get(app.id)
            if spend is None:
                spend = self._spend[app.id] = _Spend(app.id, app.name, tenant_id, RollingSeries(
                    width=1, bucket_seconds=anomaly.window_seconds / 10,
                    horizon_seconds=anomaly.baseline_seconds, now=now))
            spend.series.add(now, (exchange.cost,))

    def _watch(self, index: int, app_id: str, app: str, tenant_id: str | None,
               now: float) -> _Watch:
        watch = self._watches.get((app_id, index))
        if watch is None:
            objectives = _objectives(self._slos[index])
            watch = self._watches[(app_id, index)] = _Watch(
                app_id, app, tenant_id, objectives, RollingSeries(
                    width=4, bucket_seconds=self._bucket,
                    horizon_seconds=self._horizon, now=now))
        return watch

    # -- evaluation ---------------------------------------------------------------------------

    def conditions(self) -> list[Condition]:
        now = self._clock()
        return [*self._burning(now), *self._anomalies(now)]

    def status(self, *, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """Every watched (app, objective) with its burn rate over each rule's windows now,
        for the dashboard and `GET /admin/slos`; `tenant_id` limits it to one tenant."""
        now = self._clock()
        out: list[dict[str, Any]] = []
        for watch in self._watches.values():
            if tenant_id is not None and watch.tenant_id != tenant_id:
                continue
            for objective in watch.objectives:
                windows = []
                for w in self._config.burn_windows:
                    rate_long, rate_short, requests = self._rates(watch, objective, w, now)
                    windows.append({
                        "window": f"{w.long_seconds:g}s/{w.short_seconds:g}s", "factor": w.factor,
                        "severity": w.severity, "burn_rate_long": round(rate_long, 3),
                        "burn_rate_short": round(rate_short, 3), "requests_short": requests,
                        "burning": requests >= self._config.min_requests
                        and min(rate_long, rate_short) >= w.factor})
                out.append({"app": watch.app, "app_id": watch.app_id,
                            "tenant_id": watch.tenant_id, "objective": objective.name,
                            "target": objective.target,
                            "latency_ms": None if objective.latency_s is None
                            else objective.latency_s * 1000, "windows": windows})
        return out

    @staticmethod
    def _rates(watch: _Watch, objective: _Objective, w: BurnWindowConfig,
               now: float) -> tuple[float, float, float]:
        """Burn rate over the long and the short window, and the short window's requests."""
        long = watch.series.window(now, w.long_seconds)
        short = watch.series.window(now, w.short_seconds)
        bad, total = (_FAILED, _TOTAL) if objective.latency_s is None else (_SLOW, _OK)
        return (burn_rate(long[bad], long[total], objective.target),
                burn_rate(short[bad], short[total], objective.target), short[total])

    def _burning(self, now: float) -> Iterable[Condition]:
        for watch in self._watches.values():
            for w in self._config.burn_windows:
                label = f"{w.long_seconds:g}s/{w.short_seconds:g}s"
                for objective in watch.objectives:
                    rate_long, rate_short, requests = self._rates(watch, objective, w, now)
                    self.burn.labels(watch.app, objective.name, label).set(rate_short)
                    if (requests < self._config.min_requests or rate_long < w.factor
                            or rate_short < w.factor):
                        continue
                    what = (f"{objective.target:.2%} availability" if objective.latency_s is None
                            else f"{objective.target:.2%} under {objective.latency_s * 1000:g} ms")
                    yield Condition(
                        fingerprint=f"slo_burn:{watch.app_id}:{objective.name}:{label}",
                        kind="slo_burn", severity=w.severity, app_id=watch.app_id,
                        app=watch.app, tenant_id=watch.tenant_id,
                        message=(f"app {watch.app} burns its {objective.name} error budget "
                                 f"({what}) {rate_short:.1f}x too fast over the last "
                                 f"{w.short_seconds:g} s ({rate_long:.1f}x over "
                                 f"{w.long_seconds:g} s; alert at {w.factor:g}x)"),
                        details={"objective": objective.name, "target": objective.target,
                                 "window": label, "burn_rate_long": round(rate_long, 3),
                                 "burn_rate_short": round(rate_short, 3),
                                 "requests_short": requests})

    def _anomalies(self, now: float) -> Iterable[Condition]:
        config = self._config.cost_anomaly
        if not config.enabled:
            return
        for spend in self._spend.values():
            observed = spend.series.observed_seconds(now)
            if observed < 2 * config.window_seconds:
                continue  # no baseline yet
            window_usd = spend.series.window(now, config.window_seconds)[0]
            span = min(config.baseline_seconds, observed) - config.window_seconds
            base_usd = spend.series.window(now, span, skip_seconds=config.window_seconds)[0]
            ratio = spend_anomaly(window_usd, config.window_seconds, base_usd, span,
                                  factor=config.factor, min_usd=config.min_usd)
            if ratio is None:
                continue
            times = "with no spend before" if math.isinf(ratio) else f"{ratio:.1f}x its baseline"
            yield Condition(
                fingerprint=f"cost_anomaly:{spend.app_id}", kind="cost_anomaly",
                severity="ticket", app_id=spend.app_id, app=spend.app, tenant_id=spend.tenant_id,
                message=(f"app {spend.app} spent ${window_usd:.2f} in the last "
                         f"{config.window_seconds:g} s, {times}"),
                details={"window_usd": round(window_usd, 6), "baseline_usd": round(base_usd, 6),
                         "baseline_seconds": span,
                         "ratio": None if math.isinf(ratio) else round(ratio, 3)})


class AlertService:
    """Turns conditions into stored alerts and webhook calls, when they start and stop."""

    def __init__(self, monitor: AlertMonitor, repository: AlertRepository,
                 config: AlertsConfig, *, notifier: WebhookNotifier | None = None,
                 clock: Callable[[], float] = time.time,
                 registry: CollectorRegistry | None = None) -> None:
        self.monitor = monitor
        self._repository = repository
        self._config = config
        self._notifier = notifier
        self._clock = clock
        self._firing: dict[str, AlertRecord] = {}
        self._task: asyncio.Task[None] | None = None
        self._firing_gauge = Gauge("pavedroad_alerts_firing", "Alerts firing now, by kind and "
                                   "severity.", ["kind", "severity"], registry=registry)
        self.raised = Counter("pavedroad_alerts", "Alerts raised, by kind and severity.",
                              ["kind", "severity"], registry=registry)

    async def start(self) -> None:
        for record in await self._repository.firing():  # left firing by an earlier process
            self._firing.setdefault(record.fingerprint, record)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._notifier is not None:
            await self._notifier.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._config.evaluate_seconds)
            try:
                await self.evaluate()
            except Exception:  # the store is down: try again next round
                log.exception("alert evaluation failed")

    async def evaluate(self) -> list[AlertRecord]:
        """One round: open alerts whose condition began, resolve those whose ended."""
        now = self._clock()
        holding = {c.fingerprint: c for c in self.monitor.conditions()}
        changed: list[AlertRecord] = []
        for fingerprint, condition in holding.items():
            if fingerprint in self._firing:
                continue
            record = AlertRecord(
                id=new_id("alr"), fingerprint=fingerprint, kind=condition.kind,
                severity=condition.severity, message=condition.message, started_at=now,
                tenant_id=condition.tenant_id, app_id=condition.app_id, app=condition.app,
                details=condition.details)
            await self._repository.open(record)
            self._firing[fingerprint] = record
            self.raised.labels(record.kind, record.severity).inc()
            log.warning("alert firing: %s", record.message)
            changed.append(record)
        for fingerprint in [f for f in self._firing if f not in holding]:
            record = self._firing.pop(fingerprint)
            record.resolved_at = now
            await self._repository.resolve(record.id, now)
            log.warning("alert resolved: %s", record.message)
            changed.append(record)
        self._firing_gauge.clear()
        for record in self._firing.values():
            self._firing_gauge.labels(record.kind, record.severity).inc()
        if self._notifier is not None:
            for record in changed:
                self._notifier.send(record.as_dict())
        return changed

    async def list(self, **filters: Any) -> list[AlertRecord]:
        return await self._repository.list(**filters)


def build_alerts(config: TelemetryConfig, repository: AlertRepository, *,
                 registry: CollectorRegistry | None = None) -> AlertService | None:
    alerts = config.alerts
    if not alerts.enabled:
        return None
    notifier = (WebhookNotifier(alerts.webhook_url, alerts.webhook_headers, registry=registry)
                if alerts.webhook_url else None)
    monitor = AlertMonitor(config, registry=registry)
    return AlertService(monitor, repository, alerts, notifier=notifier, registry=registry)
