"""Liveness, readiness and the Prometheus metrics, read the way a scraper reads them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import MASTER_KEY, RunningGateway, Sim, start_gateway

CONFIG = """
store: {url: "{db}"}
deployments:
  - name: steady
    provider: openai_compatible
    model: up-steady
    api_base: {sim}/v1
    retries: {attempts: 1, backoff_initial: 0.01}
  - name: flaky
    provider: openai_compatible
    model: up-flaky
    api_base: {sim}/v1
    retries: {attempts: 0}
    breaker: {consecutive_failures: 2, cooldown_seconds: 60}
models:
  - name: steady
    route: steady
  - name: flaky
    route: flaky
  - name: vectors
    kind: embedding
    route: steady
"""

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gw(sim_session: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(CONFIG.replace("{sim}", sim_session.url),
                            tmp_path_factory.mktemp("health"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sdk(gw: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER_KEY, max_retries=0) as client:
        yield client


def samples(gw: RunningGateway) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample on /metrics, keyed by name and label set (no auth needed)."""
    response = httpx.get(f"{gw.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_healthz(gw: RunningGateway) -> None:
    response = httpx.get(f"{gw.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-pavedroad-request-id"].startswith("req_")


def test_readyz_reports_its_checks(gw: RunningGateway) -> None:
    response = httpx.get(f"{gw.url}/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"config": True, "store": True}}


def test_request_counter_and_duration(gw: RunningGateway, sdk: openai.OpenAI) -> None:
    before = samples(gw)
    sdk.chat.completions.create(model="steady", messages=HELLO)
    sdk.chat.completions.create(model="steady", messages=HELLO)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="missing", messages=HELLO)
    after = samples(gw)
    ok = dict(endpoint="chat", model="steady", code="ok")
    assert value(after, "pavedroad_requests_total", **ok) - \
        value(before, "pavedroad_requests_total", **ok) == 2
    missing = dict(endpoint="chat", model="missing", code="model_not_found")
    assert value(after, "pavedroad_requests_total", **missing) - \
        value(before, "pavedroad_requests_total", **missing) == 1
    count = "pavedroad_request_duration_seconds_count"
    assert value(after, count, endpoint="chat", model="steady") - \
        value(before, count, endpoint="chat", model="steady") == 2
    assert value(after, "pavedroad_request_duration_seconds_sum", endpoint="chat",
                 model="steady") > 0
    assert value(after, "pavedroad_tokens_total", model="steady", kind="prompt") > 0
    assert value(after, "pavedroad_tokens_total", model="steady", kind="completion") > 0


def test_time_to_first_token_after_a_stream(gw: RunningGateway, sdk: openai.OpenAI) -> None:
    name = "pavedroad_time_to_first_token_seconds_count"
    before = value(samples(gw), name, model="steady")
    sdk.chat.completions.create(model="steady", messages=HELLO)  # not a stream: no TTFT
    assert value(samples(gw), name, model="steady") == before
    text = "".join(c.choices[0].delta.content or "" for c in
                   sdk.chat.completions.create(model="steady", messages=HELLO, stream=True))
    assert text == "Simulated reply from up-steady: hi"
    after = samples(gw)
    assert value(after, name, model="steady") == before + 1
    assert value(after, "pavedroad_requests_total", endpoint="chat", model="steady",
                 code="ok") > 0


def test_embeddings_are_counted(gw: RunningGateway) -> None:
    with gw.client() as client:
        response = client.post("/v1/embeddings", json={"model": "vectors", "input": "x"})
    assert response.status_code == 200
    assert value(samples(gw), "pavedroad_requests_total", endpoint="embeddings",
                 model="vectors", code="ok") == 1


def test_upstream_errors_are_counted(gw: RunningGateway, sdk: openai.OpenAI, sim: Sim) -> None:
    before = samples(gw)
    sim.fault("up-steady", status=500, times=1)
    raw = sdk.chat.completions.with_raw_response.create(model="steady", messages=HELLO)
    assert raw.headers["x-pavedroad-route"] == "steady:upstream_error, steady:ok"
    sim.fault("up-steady", status=429, times=1)
    raw = sdk.chat.completions.with_raw_response.create(model="steady", messages=HELLO)
    assert raw.headers["x-pavedroad-route"] == "steady:upstream_rate_limited, steady:ok"
    after = samples(gw)
    for code in ("upstream_error", "upstream_rate_limited"):
        assert value(after, "pavedroad_upstream_errors_total", deployment="steady",
                     code=code) - value(before, "pavedroad_upstream_errors_total",
                                        deployment="steady", code=code) == 1
    attempts = "pavedroad_upstream_attempts_total"
    assert value(after, attempts, deployment="steady", outcome="error") - \
        value(before, attempts, deployment="steady", outcome="error") == 2
    assert value(after, "pavedroad_breaker_state", deployment="steady") == 0  # still closed


def test_breaker_state_opens_after_failures(gw: RunningGateway, sdk: openai.OpenAI,
                                            sim: Sim) -> None:
    found = samples(gw)
    assert ("pavedroad_breaker_state", frozenset({("deployment", "flaky")})) in found
    assert value(found, "pavedroad_breaker_state", deployment="flaky") == 0
    sim.fault("up-flaky", status=503)
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as failed:
            sdk.chat.completions.create(model="flaky", messages=HELLO)
        assert failed.value.status_code == 503
        assert failed.value.code == "upstream_overloaded"
    calls = sim.stats()["by_model"]["up-flaky"]
    assert value(samples(gw), "pavedroad_breaker_state", deployment="flaky") == 2  # open
    with pytest.raises(openai.APIStatusError) as short_circuited:
        sdk.chat.completions.create(model="flaky", messages=HELLO)
    assert short_circuited.value.code == "circuit_open"
    assert short_circuited.value.response.headers["x-pavedroad-route"] == "flaky:circuit_open"
    assert sim.stats()["by_model"]["up-flaky"] == calls, "an open breaker must not call upstream"
    with gw.client() as admin:
        deployments = {d["name"]: d for d in admin.get("/admin/deployments").json()["data"]}
    assert deployments["flaky"]["breaker"] == "open"
    assert deployments["steady"]["breaker"] == "closed"
