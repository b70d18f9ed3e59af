"""Ledger records built from exchanges, and when the observer journals them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from pavedroad.config.models import DeploymentConfig
from pavedroad.core.types import Caller, ChatRequest, Subject, Usage
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.prices import PriceCatalog
from pavedroad.metering.record import LedgerObserver, nanos, record_of
from pavedroad.metering.tokens import estimate_prompt_tokens
from pavedroad.routing.breaker import LocalBreaker
from pavedroad.routing.deployment import Deployment
from pavedroad.service.pipeline import Exchange

CONFIG = DeploymentConfig(name="d", provider="openai_compatible", model="gpt-4o",
                          api_base="http://127.0.0.1:1/v1")
CATALOG = PriceCatalog([CONFIG])
CALLER = Caller(key_id="key_1", name="k", models=None, app=Subject("app_1", "a"),
                team_subject=Subject("team_1", "t"), tenant=Subject("ten_1", "x"))
BODY = {"model": "m", "messages": [{"role": "user", "content": "y" * 80}]}


def exchange(*, stream: bool, rid: str = "req_1") -> Exchange:
    body = {**BODY, "stream": stream}
    ex = Exchange(ChatRequest(model="m", body=body, request_id=rid, caller=CALLER), "chat",
                  tags={"env": "prod"}, end_user="ann")
    ex.deployment = Deployment(CONFIG, provider=None,  # type: ignore[arg-type]
                               breaker=LocalBreaker(CONFIG.breaker))
    return ex


def test_final_record_carries_attribution_usage_and_cost() -> None:
    ex = exchange(stream=False)
    ex.usage = Usage(prompt_tokens=30, completion_tokens=4, cached_tokens=10)
    ex.cost, ex.usage_source = 0.000123, "provider"
    record = record_of(ex, final=True)
    assert record["kind"] == "final" and record["outcome"] == "ok"
    assert (record["tenant_id"], record["team_id"], record["app_id"], record["key_id"]) == (
        "ten_1", "team_1", "app_1", "key_1")
    assert record["end_user"] == "ann" and record["tags"] == {"env": "prod"}
    assert record["cost_nanousd"] == 123_000 and record["cached_tokens"] == 10
    assert record["latency_ms"] >= 0 and record["ended_at"] >= record["started_at"]
    assert orjson.loads(orjson.dumps(record)) == record  # one JSON line


def test_provisional_record_prices_the_estimated_prompt() -> None:
    record = record_of(exchange(stream=True), final=False, catalog=CATALOG)
    prompt = estimate_prompt_tokens(BODY)
    assert record["outcome"] == "in_progress" and record["usage_source"] == "estimated"
    assert record["prompt_tokens"] == prompt and record["ended_at"] is None
    assert record["cost_nanousd"] == nanos(prompt * 2.50 / 1e6)


def observer() -> tuple[LedgerObserver, list[dict[str, Any]], CollectorRegistry]:
    lines: list[dict[str, Any]] = []
    registry = CollectorRegistry()
    return (LedgerObserver(lambda b: lines.append(orjson.loads(b)), CATALOG,
                           MeteringMetrics(registry)), lines, registry)


def test_complete_responses_are_journaled_once_final_streams_twice() -> None:
    obs, lines, _ = observer()
    plain = exchange(stream=False, rid="req_plain")
    obs.answering(plain)
    assert lines == []
    obs.ended(plain)
    stream = exchange(stream=True, rid="req_stream")
    obs.answering(stream)
    assert obs.open == {"req_stream": stream}
    obs.ended(stream)
    assert [(r["request_id"], r["kind"]) for r in lines] == [
        ("req_plain", "final"), ("req_stream", "provisional"), ("req_stream", "final")]
    assert obs.open == {}


def test_streams_open_at_shutdown_end_interrupted() -> None:
    obs, lines, _ = observer()
    obs.answering(exchange(stream=True, rid="req_a"))
    assert obs.interrupt_open() == 1
    assert lines[-1]["kind"] == "final" and lines[-1]["outcome"] == "interrupted"
    assert obs.interrupt_open() == 0


def test_a_journal_that_refuses_records_never_fails_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()

    def full(_: bytes) -> None:
        raise OSError(28, "No space left on device")

    obs = LedgerObserver(full, CATALOG, MeteringMetrics(registry))
    obs.ended(exchange(stream=False))
    assert registry.get_sample_value("pavedroad_ledger_journal_errors_total") == 1
    assert "could not journal" in caplog.text
