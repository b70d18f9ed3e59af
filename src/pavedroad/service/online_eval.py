"""Online evaluation: score a share of live answers with cheap scorers, off the request path.

A pipeline stage decides per request whether it is sampled (the app's rate) and, if so, asks
the call to keep the answer's text and registers a finalizer. When the exchange ends, the
finalizer puts a small sample on a bounded queue without waiting: a full queue drops the
sample and counts it, so scoring can never slow or fail a request. One worker task scores
what is queued, exports the scores as metrics and writes them to the store in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.config.loader import ConfigError, ConfigProblem
from pavedroad.config.online_eval import OnlineEvalConfig
from pavedroad.core.types import Caller
from pavedroad.evals.online_scorers import SKIPPED, builtin_scorers
from pavedroad.evals.types import Case, Output, Scorer, ScorerContext, ScorerManifest
from pavedroad.plugins.registry import PluginRegistry
from pavedroad.service.pipeline import ChatResult, Exchange, Next
from pavedroad.store.online_eval import OnlineEvalRepository

log = logging.getLogger("pavedroad.online_eval")
NO_APP = "-"  # the app label of callers without an app (the master key)
_SCORE_BUCKETS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
_DRAIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Sample:
    """What a scorer may look at of one answered request; nothing else is kept."""

    request_id: str
    tenant_id: str | None
    app_id: str | None
    app: str  # the metrics label: tenant/team/app, or NO_APP
    model: str
    text: str
    response_format: str | None
    latency_ms: float
    at: float


class OnlineEvalMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.score = Histogram(
            "pavedroad_online_eval_score", "Scores cheap scorers gave sampled live answers.",
            ["app", "scorer"], buckets=_SCORE_BUCKETS, registry=registry)
        self.passed = Counter(
            "pavedroad_online_eval_passed", "Sampled live answers a scorer passed (divide by "
            "pavedroad_online_eval_score_count for the pass rate).", ["app", "scorer"],
            registry=registry)
        self.samples = Counter(
            "pavedroad_online_eval_samples", "Sampled requests by what became of them: queued, "
            "dropped (the queue was full) or skipped (no answer to score).", ["app", "outcome"],
            registry=registry)
        self.queue_depth = Gauge("pavedroad_online_eval_queue_depth",
                                 "Samples waiting to be scored.", registry=registry)
        self._sample_counts: dict[tuple[str, str], Any] = {}

    def sampled(self, app: str, outcome: str) -> None:
        """Count a sample; the labelled child is looked up once per app (hot path)."""
        child = self._sample_counts.get((app, outcome))
        if child is None:
            child = self._sample_counts[(app, outcome)] = self.samples.labels(app, outcome)
        child.inc()


class OnlineEvaluator:
    """The bounded queue and the worker that drains it."""

    def __init__(self, config: OnlineEvalConfig, scorers: Mapping[str, Scorer], *,
                 metrics: OnlineEvalMetrics, repository: OnlineEvalRepository | None,
                 app_label: Callable[[str], str]) -> None:
        self.config = config
        self.scorers = dict(scorers)
        self.metrics = metrics
        self._repository = repository
        self._app_label = app_label
        self._queue: asyncio.Queue[Sample] = asyncio.Queue(maxsize=config.queue_size)
        self._worker: asyncio.Task[None] | None = None

    def rate(self, caller: Caller) -> float:
        """The share of this caller's requests that is sampled: its app's, or the default."""
        apps = self.config.apps
        if caller.app is None or not apps:
            return self.config.sample_rate
        rate = apps.get(caller.app.id)
        return rate if rate is not None else apps.get(self._app_label(caller.app.id),
                                                      self.config.sample_rate)

    def collect(self, exchange: Exchange) -> None:
        """A finalizer: queue the exchange's answer, or count why not. Never blocks."""
        caller = exchange.request.caller
        app = self._app_label(caller.app.id) if caller.app is not None else NO_APP
        if exchange.outcome != "ok" or exchange.cache_hit or exchange.answer is None:
            self.metrics.sampled(app, "skipped")
            return
        if self._queue.full():  # before building the sample: dropping must be the cheapest
            self.metrics.sampled(app, "dropped")
            return
        response_format = exchange.request.body.get("response_format")
        sample = Sample(
            request_id=exchange.request.request_id,
            tenant_id=caller.tenant.id if caller.tenant is not None else None,
            app_id=caller.app.id if caller.app is not None else None, app=app,
            model=exchange.request.model, text="".join(exchange.answer),
            response_format=response_format.get("type")
            if isinstance(response_format, dict) else None,
            latency_ms=(time.perf_counter() - exchange.started) * 1000, at=time.time())
        self._queue.put_nowait(sample)  # not full (checked above; nothing ran since)
        self.metrics.sampled(app, "queued")

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Score what is queued (a few seconds at most), then stop the worker."""
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN_SECONDS):
                await self._queue.join()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.config.batch_rows and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.metrics.queue_depth.set(self._queue.qsize())
            try:
                await self.score_batch(batch)
            except Exception:  # the store is down, say: these scores are lost, not the worker
                log.exception("online evaluation lost a batch of %d samples", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
                self.metrics.queue_depth.set(self._queue.qsize())

    async def score_batch(self, batch: list[Sample]) -> list[dict[str, Any]]:
        """Score each sample with each scorer, export the metrics, store the rows."""
        rows: list[dict[str, Any]] = []
        for sample in batch:
            case = Case(id=sample.request_id, input={"model": sample.model},
                        metadata={"response_format": sample.response_format})
            output = Output(sample.text, latency_ms=sample.latency_ms)
            for name, scorer in self.scorers.items():
                try:
                    score = await scorer.score(case, output)
                except Exception:
                    log.exception("online scorer %r failed", name)
                    continue
                if score.details.get(SKIPPED):
                    continue
                self.metrics.score.labels(sample.app, name).observe(score.value)
                if score.passed:
                    self.metrics.passed.labels(sample.app, name).inc()
                rows.append({"request_id": sample.request_id, "scorer": name,
                             "tenant_id": sample.tenant_id, "app_id": sample.app_id,
                             "model": sample.model, "value": float(score.value),
                             "passed": bool(score.passed), "reason": score.reason[:500],
                             "created_at": sample.at})
        if self._repository is not None and self.config.store:
            await self._repository.add(rows)
        return rows


class OnlineSampler:
    """The pipeline stage that picks the sampled requests (innermost, after the cache and
    the guardrails: a cache hit or a blocked request never reaches it)."""

    def __init__(self, evaluator: OnlineEvaluator, *,
                 draw: Callable[[], float] = random.random) -> None:
        self._evaluator = evaluator
        self._draw = draw

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        rate = self._evaluator.rate(exchange.request.caller)
        if rate > 0 and (rate >= 1 or self._draw() < rate):
            if exchange.answer is None:
                exchange.answer = []
            exchange.on_end(self._evaluator.collect)
        return await call_next(exchange)


@dataclass(slots=True)
class OnlineEval:
    """What the gateway holds: the stage to put in the pipeline and the evaluator to run."""

    evaluator: OnlineEvaluator
    stage: OnlineSampler
    repository: OnlineEvalRepository

    def start(self) -> None:
        self.evaluator.start()

    async def stop(self) -> None:
        await self.evaluator.stop()


def resolve_scorers(config: OnlineEvalConfig, builtins: Mapping[str, Scorer],
                    manifests: Mapping[str, ScorerManifest]) -> dict[str, Scorer]:
    """The configured scorers by name, from the registry's manifests or online evaluation's
    own; an unknown, expensive or parameter-needing one is a located config error."""
    problems: list[ConfigProblem] = []
    chosen: dict[str, Scorer] = {}
    for i, name in enumerate(config.scorers):
        where = f"online_eval.scorers[{i}]"
        manifest = manifests.get(name)
        if manifest is not None and not manifest.cheap:
            problems.append(ConfigProblem(where, f"scorer {name!r} calls a model; online "
                                          "evaluation runs cheap scorers only"))
        elif manifest is not None and manifest.parameters.get("required"):
            problems.append(ConfigProblem(where, f"scorer {name!r} needs parameters "
                                          f"({', '.join(manifest.parameters['required'])}); "
                                          "online evaluation runs scorers without them"))
        elif manifest is not None:
            chosen[name] = manifest.factory({}, ScorerContext())
        elif name in builtins:
            chosen[name] = builtins[name]
        else:
            known = sorted({*builtins, *(n for n, m in manifests.items() if m.cheap)})
            problems.append(ConfigProblem(where, f"unknown scorer {name!r} (cheap ones: "
                                          f"{', '.join(known)})"))
    if problems:
        raise ConfigError(problems)
    return chosen


def build_online_eval(config: OnlineEvalConfig, engine: AsyncEngine, *,
                      registry: CollectorRegistry, app_label: Callable[[str], str],
                      plugins: PluginRegistry) -> OnlineEval | None:
    """None when no app is sampled: the pipeline then has no stage for it at all."""
    if not config.active:  # nothing sampled: nothing to score, no scorer to look up
        return None
    chosen = resolve_scorers(config, builtin_scorers(max_chars=config.max_chars),
                             plugins.scorers)
    repository = OnlineEvalRepository(engine)
    evaluator = OnlineEvaluator(config, chosen, metrics=OnlineEvalMetrics(registry),
                                repository=repository, app_label=app_label)
    return OnlineEval(evaluator, OnlineSampler(evaluator), repository)
