"""Online evaluation without a server: sampling rates, the bounded queue, the scorers."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from pavedroad.config.loader import ConfigError
from pavedroad.config.online_eval import OnlineEvalConfig
from pavedroad.core.types import Caller, ChatRequest, ChatResponse, Subject
from pavedroad.evals.online_scorers import builtin_scorers
from pavedroad.plugins.registry import load_registry
from pavedroad.service.online_eval import (
    OnlineEvalMetrics,
    OnlineEvaluator,
    OnlineSampler,
    resolve_scorers,
)
from pavedroad.service.pipeline import ChatResult, Exchange

PATHS = {"app_1": "acme/t/one", "app_2": "acme/t/two"}
MANIFESTS = load_registry().scorers  # the registry's cheap scorers (`refusal`) and the rest


def caller(app_id: str | None = "app_1") -> Caller:
    app = Subject(app_id, "x") if app_id else None
    return Caller("key_1", "k", None, app=app, tenant=Subject("ten_1", "acme"))


def exchange(i: int = 0, *, app_id: str | None = "app_1", outcome: str = "ok",
             answer: str | None = "fine", **body: object) -> Exchange:
    request = ChatRequest("m", {"messages": [], **body}, f"req_{i}", caller(app_id))
    ex = Exchange(request, "chat")
    ex.outcome = outcome
    ex.answer = [answer] if answer is not None else None
    return ex


def evaluator(**settings: object) -> tuple[OnlineEvaluator, CollectorRegistry]:
    config = OnlineEvalConfig.model_validate({"sample_rate": 1.0, **settings})
    registry = CollectorRegistry()
    scorers = resolve_scorers(config, builtin_scorers(max_chars=config.max_chars), MANIFESTS)
    return OnlineEvaluator(config, scorers, metrics=OnlineEvalMetrics(registry), repository=None,
                           app_label=lambda app_id: PATHS.get(app_id, app_id)), registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return found or 0.0


def test_rates_per_app_by_path_or_id_override_the_default() -> None:
    ev, _ = evaluator(sample_rate=0.1, apps={"acme/t/one": 1.0, "app_2": 0.0})
    assert ev.rate(caller("app_1")) == 1.0
    assert ev.rate(caller("app_2")) == 0.0
    assert ev.rate(caller("app_3")) == 0.1
    assert ev.rate(caller(None)) == 0.1


def test_sampler_draws_against_the_rate() -> None:
    ev, _ = evaluator(sample_rate=0.5)
    draws = iter([0.2, 0.7])
    sampler = OnlineSampler(ev, draw=lambda: next(draws))

    async def answer(ex: Exchange) -> ChatResult:
        return ChatResponse({"choices": []})

    async def run() -> list[int]:
        kept = []
        for i in range(2):
            ex = exchange(i, answer=None)
            await sampler(ex, answer)
            kept.append(len(ex.finalizers))
            assert (ex.answer is not None) == bool(ex.finalizers)
        return kept

    assert asyncio.run(run()) == [1, 0]


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    ev, registry = evaluator(queue_size=2)

    async def run() -> None:
        for i in range(6):  # nothing drains the queue between these calls
            ev.collect(exchange(i))
        ev.start()
        await ev.stop()  # scores the two that were queued

    asyncio.run(run())
    assert value(registry, "pavedroad_online_eval_samples_total", app="acme/t/one",
                 outcome="queued") == 2
    assert value(registry, "pavedroad_online_eval_samples_total", app="acme/t/one",
                 outcome="dropped") == 4
    assert value(registry, "pavedroad_online_eval_score_count", app="acme/t/one",
                 scorer="empty") == 2


def test_failed_and_cached_requests_are_skipped() -> None:
    ev, registry = evaluator()
    ev.collect(exchange(1, outcome="upstream_timeout"))
    cached = exchange(2)
    cached.cache_hit = True
    ev.collect(cached)
    assert value(registry, "pavedroad_online_eval_samples_total", app="acme/t/one",
                 outcome="skipped") == 2
    assert value(registry, "pavedroad_online_eval_samples_total", app="acme/t/one",
                 outcome="queued") == 0


def test_scores_and_rows_of_a_batch() -> None:
    ev, registry = evaluator(max_chars=10)
    ev.collect(exchange(1, answer="I'm sorry, but I can't help with that."))
    ev.collect(exchange(2, answer='{"a": 1}', response_format={"type": "json_object"}))
    ev.collect(exchange(3, answer="not json", response_format={"type": "json_schema"}))
    ev.collect(exchange(4, answer="   "))

    async def run() -> list[dict[str, object]]:
        batch = [ev._queue.get_nowait() for _ in range(4)]
        return await ev.score_batch(batch)

    rows = {(r["request_id"], r["scorer"]): r for r in asyncio.run(run())}
    assert rows[("req_1", "refusal")]["passed"] is False
    assert rows[("req_1", "length")]["passed"] is False  # longer than 10 characters
    assert rows[("req_1", "length")]["value"] == pytest.approx(10 / 38)
    assert rows[("req_2", "length")]["value"] == 1.0
    assert ("req_1", "json_valid") not in rows  # no JSON asked for: skipped
    assert rows[("req_2", "json_valid")]["passed"] is True
    assert rows[("req_3", "json_valid")]["passed"] is False
    assert rows[("req_4", "empty")]["passed"] is False
    assert value(registry, "pavedroad_online_eval_passed_total", app="acme/t/one",
                 scorer="empty") == 3


def test_unknown_expensive_or_parameterised_scorers_are_config_errors() -> None:
    builtins = builtin_scorers(max_chars=10)
    for names, message in ((["empty", "nope"], r"scorers\[1\]: unknown scorer 'nope'"),
                           (["llm_judge"], "calls a model"),
                           (["latency"], r"needs parameters \(max_ms\)")):
        with pytest.raises(ConfigError, match=message):
            resolve_scorers(OnlineEvalConfig(scorers=names), builtins, MANIFESTS)
    chosen = resolve_scorers(OnlineEvalConfig(scorers=["refusal", "length", "contains"]),
                             builtins, MANIFESTS)
    assert list(chosen) == ["refusal", "length", "contains"]


def test_rates_outside_zero_to_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        OnlineEvalConfig(apps={"a/b/c": 1.5})
    assert not OnlineEvalConfig().active
    assert OnlineEvalConfig(apps={"a/b/c": 0.1}).active
