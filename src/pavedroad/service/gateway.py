"""Assemble the running gateway from settings, once, and keep its state fresh.

Everything the API needs hangs off one `Gateway` object: no module globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.audit.trail import AuditTrail, build_audit
from pavedroad.cache import ResponseCache, build_response_cache
from pavedroad.config.loader import ConfigError, ConfigProblem
from pavedroad.config.models import Settings
from pavedroad.config.secrets import SecretResolver
from pavedroad.guardrails.runner import GuardrailRunner
from pavedroad.metering.assembly import Metering, build_metering
from pavedroad.plugins.registry import PluginRegistry, load_registry
from pavedroad.providers.transport import AiohttpTransport, Transport
from pavedroad.rag.service import RetrievalService, build_retrieval
from pavedroad.routing.breaker import LocalBreaker
from pavedroad.routing.deployment import Deployment
from pavedroad.routing.router import Router
from pavedroad.routing.switches import KillSwitches
from pavedroad.service.auth import KeyCache
from pavedroad.service.chat import ChatService, EmbeddingService
from pavedroad.service.enforcement import Enforcement, build_enforcement, build_limiting
from pavedroad.service.failmode import FailMode, StoreHealth
from pavedroad.service.keys import KeyAdmin
from pavedroad.service.online_eval import OnlineEval, build_online_eval
from pavedroad.service.org import OrgAdmin, OrgDirectory
from pavedroad.service.policy_assembly import PolicyStages, build_policy_stages
from pavedroad.service.prompts_admin import PromptAdmin, build_prompts
from pavedroad.service.retrieval_assembly import (
    bind_retriever,
    choose_embedder,
    choose_reranker,
    extra_embedders,
)
from pavedroad.service.retrieval_chat import RetrievalStage
from pavedroad.service.switches import SwitchAdmin
from pavedroad.store.alerts import AlertRepository
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.keys import KeyRepository
from pavedroad.store.org import OrgRepository
from pavedroad.store.switches import SwitchRepository
from pavedroad.telemetry.alerts import AlertService, build_alerts
from pavedroad.telemetry.metrics import GatewayMetrics
from pavedroad.telemetry.tracing import ExchangeTracer, build_tracer

if TYPE_CHECKING:  # at run time only when `redis.url` is set (the optional `redis` extra)
    from pavedroad.service.scale_out import SharedState

log = logging.getLogger("pavedroad")


def build_deployments(
    settings: Settings,
    registry: PluginRegistry,
    transport: Transport,
    *,
    env: Mapping[str, str] | None = None,
) -> dict[str, Deployment]:
    """Instantiate a provider per deployment; every problem is collected, not just the first."""
    resolver = SecretResolver(secrets_file=settings.secrets_file, env=env)
    deployments: dict[str, Deployment] = {}
    problems: list[ConfigProblem] = []
    for i, config in enumerate(settings.deployments):
        where = f"deployments[{i}]"
        try:
            factory = registry.provider_factory(config.provider)
            api_key = resolver.resolve(config.api_key)
            provider = factory(config, api_key, transport)
        except LookupError as exc:
            field = "provider" if "provider" in str(exc) else "api_key"
            problems.append(ConfigProblem(f"{where}.{field}", str(exc).strip("'\"")))
            continue
        except ValueError as exc:
            problems.append(ConfigProblem(where, str(exc)))
            continue
        deployments[config.name] = Deployment(config, provider, LocalBreaker(config.breaker))
    if problems:
        raise ConfigError(problems)
    return deployments


@dataclass(slots=True)
class Gateway:
    settings: Settings
    router: Router
    chat: ChatService
    embeddings: EmbeddingService
    metrics: GatewayMetrics
    keys: KeyCache
    key_admin: KeyAdmin
    switch_admin: SwitchAdmin
    org_admin: OrgAdmin
    transport: Transport
    engine: AsyncEngine
    metering: Metering | None = None
    enforcement: Enforcement | None = None  # rate limits and budgets
    cache: ResponseCache | None = None
    shared: SharedState | None = None  # Redis, when `redis.url` is set
    audit: AuditTrail | None = None  # None: `audit.enabled: false`
    alerts: AlertService | None = None  # SLO burn-rate and cost-anomaly alerts
    tracer: ExchangeTracer | None = None  # None: no OTLP endpoint configured
    policy: PolicyStages | None = None
    online_eval: OnlineEval | None = None  # None: no app's traffic is sampled
    rag: RetrievalService | None = None  # collections, ingestion, search (docs/adr/0014)
    prompts: PromptAdmin | None = None  # the prompt registry (docs/adr/0016)
    started_at: float = field(default_factory=time.time)
    ready: bool = False
    health: StoreHealth = field(default_factory=StoreHealth)
    _refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(migrate, self.settings.store.url)
        if self.metering is not None:
            await self.metering.start()  # replays any journal a crashed process left
        if self.audit is not None:
            await self.audit.start()  # the same for the audit journal
        if self.alerts is not None:
            await self.alerts.start()
        await self.keys.refresh()
        await self.switch_admin.reload()
        if self.prompts is not None:
            await self.prompts.refresh()
        if self.shared is not None:
            await self.shared.start()
        if self.enforcement is not None:  # after the ledger's replay: budgets start from it
            await self.enforcement.refresh()
        if self.online_eval is not None:
            self.online_eval.start()
        self.health.set(True)
        self.ready = True
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def refresh(self) -> None:
        await self.keys.refresh()
        await self.switch_admin.reload()
        if self.prompts is not None:
            await self.prompts.refresh()
        if self.enforcement is not None:
            await self.enforcement.refresh()

    async def _refresh_forever(self) -> None:
        interval = self.settings.auth.refresh_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
                if self.health.set(True):
                    log.warning("store reachable again")
            except Exception:  # the store is down: keep serving from memory
                if self.health.set(False):
                    log.warning("store unreachable; serving from memory, fail-closed apps "
                                "are refused")

    @property
    def store_ok(self) -> bool:
        return self.health.ok

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.transport.aclose()
        if self.enforcement is not None:
            await self.enforcement.stop()  # settle what requests left behind
        if self.shared is not None:
            if self.cache is not None:
                await self.cache.drain()  # answers on their way into Redis
            await self.shared.aclose()
        if self.metering is not None:
            await self.metering.stop()  # flushes the ledger journal while the store is open
        if self.audit is not None:
            await self.audit.stop()
        if self.online_eval is not None:
            await self.online_eval.stop()  # scores what is queued while the store is open
        if self.alerts is not None:
            await self.alerts.stop()
        if self.tracer is not None:
            await asyncio.to_thread(self.tracer.shutdown)
        await self.engine.dispose()


def _shared_state(settings: Settings) -> SharedState | None:
    """The Redis stores when `redis.url` is set; None: every store in this process."""
    if settings.redis.url is None:
        return None
    try:  # imported here: Redis is an optional dependency, needed only for scale-out
        from pavedroad.service.scale_out import connect_shared_state
    except ImportError as exc:
        raise ConfigError([ConfigProblem(
            "redis.url", f"needs the redis package: pip install 'pavedroad[redis]' ({exc})")],
        ) from exc
    return connect_shared_state(settings)


def _tracer(settings: Settings) -> ExchangeTracer | None:
    try:  # the OpenTelemetry SDK is an optional dependency, needed only with an endpoint
        return build_tracer(settings.telemetry.tracing)
    except ImportError as exc:
        raise ConfigError([ConfigProblem(
            "telemetry.tracing.otlp_endpoint",
            f"needs the OpenTelemetry SDK: pip install 'pavedroad[otel]' ({exc})")]) from exc


def build_gateway(
    settings: Settings,
    *,
    registry: PluginRegistry | None = None,
    env: Mapping[str, str] | None = None,
    transport: Transport | None = None,
) -> Gateway:
    environ = os.environ if env is None else env
    registry = registry or load_registry()
    transport = transport or AiohttpTransport()
    deployments = build_deployments(settings, registry, transport, env=environ)
    metrics = GatewayMetrics()
    switches = KillSwitches()
    shared = _shared_state(settings)
    limiting = build_limiting(settings, counters=shared.counters if shared else None,
                              registry=metrics.registry)
    router = Router(deployments, {m.name: m for m in settings.models}, switches,
                    observer=metrics, gate=limiting.gate)
    for name in deployments:
        metrics.breaker(name, router.deployments[name].breaker.state)
    engine = create_engine(settings.store.url)
    metering = build_metering(settings, engine, metrics.registry)
    audit = build_audit(settings, engine, registry=metrics.registry, plugins=registry,
                        env=environ)
    admin_audit = audit.admin if audit is not None else None
    org_repository = OrgRepository(engine)
    directory = OrgDirectory(org_repository)
    prompts = build_prompts(engine, directory, audit=admin_audit,
                            known_models=[m.name for m in settings.models])
    # First stage after model access: a hit reserves no limits or budget, calls no upstream.
    cache = build_response_cache(
        settings.cache, router, registry=metrics.registry,
        store=shared.cache if shared and settings.cache.backend != "memory" else None,
        app_settings=lambda app_id: getattr(directory.apps.get(app_id), "settings", None))
    keys = KeyCache(KeyRepository(engine), directory,
                    master_key=environ.get("PAVEDROAD_MASTER_KEY"))
    enforcement = build_enforcement(settings, engine, directory, limiting,
                                    catalog=metering.catalog, registry=metrics.registry,
                                    budget_store=shared.budgets if shared else None,
                                    audit=admin_audit)
    health = StoreHealth(ok=False)
    policy = build_policy_stages(settings, registry, router, directory, count=metrics.finding)
    # After the policy stage (it decides the logging level), before the call.
    audit_stages = [audit.capture] if audit is not None else []
    # Innermost: cache hits and blocked requests never reach it (nothing to score).
    online_eval = build_online_eval(settings.online_eval, engine, registry=metrics.registry,
                                    app_label=directory.path, plugins=registry)
    observers = [*metering.observers, *([audit.observer] if audit is not None else [])]
    alerts = build_alerts(settings.telemetry, AlertRepository(engine), registry=metrics.registry)
    tracer = _tracer(settings)
    observers += [o for o in (alerts.monitor if alerts else None, tracer) if o is not None]
    known = {
        "deployment": set(deployments),
        "model": {m.name for m in settings.models},
        "provider": {d.provider for d in settings.deployments} | set(registry.providers),
    }
    # Retrieval: the grounded model reads collections; the `retrieval` chat field is served
    # after the policy stages (they decide the guardrails) and before the cache (whose key
    # then includes the injected passages).
    embeddings = EmbeddingService(router, metrics)
    embedder = choose_embedder(settings, embeddings)
    rag = build_retrieval(settings, engine, directory, embedder=embedder,
                          embedders=extra_embedders(embedder),
                          reranker=choose_reranker(settings), audit=admin_audit)
    bind_retriever(deployments, rag)
    retrieval = RetrievalStage(rag, GuardrailRunner(registry, count=metrics.finding))
    # The request path, outermost first (docs/adr/0005); prompts render before model access.
    stages = [FailMode(health), *policy.front, retrieval, cache, *audit_stages,
              *enforcement.stages, *policy.back, *([online_eval.stage] if online_eval else [])]
    chat = ChatService(router, metrics, meter=metering.meter, stages=stages,
                       observers=observers, complete=[prompts.stage()],
                       sample_trace=tracer.sample if tracer else None)
    return Gateway(
        settings=settings, router=router, chat=chat, embeddings=embeddings, metrics=metrics,
        keys=keys,
        key_admin=KeyAdmin(KeyRepository(engine), directory, cache=keys,
                           known_models=[m.name for m in settings.models], audit=admin_audit),
        org_admin=OrgAdmin(org_repository, directory, audit=admin_audit,
                           vocabulary=settings.policy),
        switch_admin=SwitchAdmin(SwitchRepository(engine), known=known, live=switches,
                                 audit=admin_audit, resolve_app=lambda ref: directory.app(ref).id),
        transport=transport, engine=engine, metering=metering,
        cache=cache, enforcement=enforcement, health=health, audit=audit, policy=policy,
        shared=shared, alerts=alerts, tracer=tracer, online_eval=online_eval, rag=rag,
        prompts=prompts,
    )
