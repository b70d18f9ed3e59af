"""OpenTelemetry traces exported over OTLP/HTTP to a real receiver that decodes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.receivers import Receiver
from tests.support.servers import RunningGateway, Sim

POLICY = """
version: "test-tracing.1"
defaults: {logging: full, retention_days: 30}
rules:
  - id: private-app-metadata
    when: app.risk_class == "limited"
    logging: metadata
  - id: guarded-app
    when: app.risk_class == "high"
    guardrails:
      input:
        pii: {action: flag}
"""

CONFIG = """
store: {url: "{db}"}
policy: {path: "{policy}"}
deployments:
  - name: d-broken
    provider: openai_compatible
    model: up-broken
    api_base: {sim}/v1
    breaker: {enabled: false}
  - name: d-good
    provider: openai_compatible
    model: up-good
    api_base: {sim}/v1
models:
  - name: m
    route: {fallback: [d-broken, d-good]}
telemetry:
  tracing:
    otlp_endpoint: {otlp}
    service_name: pavedroad-test
    capture_content: true
"""


def _decode(body: bytes) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return message


@pytest.fixture
def otlp() -> Iterator[Receiver]:
    receiver = Receiver(decode=_decode).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def gw(sim: Sim, otlp: Receiver, tmp_path: Path,
       gateway_factory: Callable[..., RunningGateway]) -> RunningGateway:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return gateway_factory(CONFIG.replace("{sim}", sim.url).replace("{otlp}", otlp.url)
                           .replace("{policy}", str(policy)))


def _attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def _spans(otlp: Receiver, count: int) -> list[Any]:
    def enough(bodies: list[Any]) -> bool:
        return sum(len(s.spans) for b in bodies for r in b.resource_spans
                   for s in r.scope_spans) >= count

    bodies = otlp.wait_for(enough)
    return [span for b in bodies for r in b.resource_spans for s in r.scope_spans
            for span in s.spans]


def test_one_trace_per_request_with_an_attempt_span_each(gw: RunningGateway, sim: Sim,
                                                         otlp: Receiver) -> None:
    gw.ensure_app("acme/t/open", risk_class="minimal")
    key = gw.create_key(app="acme/t/open")
    sim.fault("up-broken", status=500)
    with gw.client(key) as client:
        response = client.post("/v1/chat/completions", json={
            "model": "m", "max_tokens": 20,
            "messages": [{"role": "user", "content": "the secret word is zebra"}]})
    assert response.status_code == 200
    spans = _spans(otlp, 3)
    root = next(s for s in spans if s.name == "chat m")
    attempts = [s for s in spans if s.parent_span_id == root.span_id]
    assert {s.name for s in attempts} == {"chat d-broken", "chat d-good"}
    assert all(s.trace_id == root.trace_id for s in attempts)
    attrs = _attributes(root)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "m"
    assert attrs["gen_ai.response.model"] == "up-good"
    assert attrs["gen_ai.request.max_tokens"] == 20
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["pavedroad.app"] == "open"
    assert attrs["pavedroad.route"].startswith("d-broken:")
    assert "zebra" in attrs["gen_ai.input.messages"]  # policy logs this app in full
    broken = next(s for s in attempts if s.name == "chat d-broken")
    assert _attributes(broken)["error.type"].startswith("upstream_")
    assert broken.status.code == 2  # STATUS_CODE_ERROR
    assert root.start_time_unix_nano <= broken.start_time_unix_nano
    assert broken.end_time_unix_nano <= root.end_time_unix_nano
    resource = {kv.key: kv.value.string_value
                for b in otlp.bodies for r in b.resource_spans for kv in r.resource.attributes}
    assert resource["service.name"] == "pavedroad-test"


def test_no_content_in_spans_when_policy_keeps_metadata_only(gw: RunningGateway,
                                                             otlp: Receiver) -> None:
    gw.ensure_app("acme/t/private", risk_class="limited")
    key = gw.create_key(app="acme/t/private")
    with gw.client(key) as client:
        response = client.post("/v1/chat/completions", json={
            "model": "m", "messages": [{"role": "user", "content": "my pin is 4417"}]})
    assert response.status_code == 200
    spans = _spans(otlp, 2)
    root = next(s for s in spans if s.name == "chat m")
    attrs = _attributes(root)
    assert attrs["pavedroad.policy.logging"] == "metadata"
    assert "gen_ai.input.messages" not in attrs
    assert all("4417" not in str(_attributes(s)) for s in spans)


def test_failed_request_marks_the_root_span_as_error(gw: RunningGateway, sim: Sim,
                                                     otlp: Receiver) -> None:
    key = gw.create_key()
    sim.fault("up-broken", status=500)
    sim.fault("up-good", status=500)
    with gw.client(key) as client:
        response = client.post("/v1/chat/completions", json={
            "model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 502
    spans = _spans(otlp, 3)
    root = next(s for s in spans if s.name == "chat m")
    assert root.status.code == 2  # STATUS_CODE_ERROR
    assert _attributes(root)["error.type"] == response.json()["error"]["code"]


def test_guardrail_scans_are_spans_and_findings_are_events(gw: RunningGateway,
                                                           otlp: Receiver) -> None:
    gw.ensure_app("acme/t/guarded", risk_class="high")
    key = gw.create_key(app="acme/t/guarded")
    with gw.client(key) as client:
        response = client.post("/v1/chat/completions", json={
            "model": "m", "messages": [{"role": "user", "content": "mail me at ann@example.com"}]})
    assert response.status_code == 200
    spans = _spans(otlp, 3)
    root = next(s for s in spans if s.name == "chat m")
    scan = next(s for s in spans if s.name == "guardrails input")
    assert scan.parent_span_id == root.span_id
    assert _attributes(scan)["pavedroad.guardrails"] == "pii"
    assert _attributes(scan)["pavedroad.findings"] == 1
    assert root.start_time_unix_nano <= scan.start_time_unix_nano <= scan.end_time_unix_nano
    events = [e for e in root.events if e.name == "gen_ai.guardrail.finding"]
    assert len(events) == 1
    finding = {kv.key: kv.value for kv in events[0].attributes}
    assert finding["pavedroad.category"].string_value == "EMAIL"
    # The scan and its finding never carry the matched text (the root span holds the
    # prompt only because this app's policy logs content in full).
    assert "ann@example.com" not in str(scan) + str(events[0])
