"""The gateway's Prometheus metrics, on a registry of their own (no module globals)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pavedroad.routing.breaker import BreakerState

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    """Counters and histograms for requests, upstream attempts and breakers."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pavedroad_requests", "Requests answered, by endpoint, model and outcome code.",
            ["endpoint", "model", "code"], registry=self.registry)
        self.latency = Histogram(
            "pavedroad_request_duration_seconds",
            "Time from request to complete response (streams: to the last byte).",
            ["endpoint", "model"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.ttft = Histogram(
            "pavedroad_time_to_first_token_seconds", "Streams: time from request to first chunk.",
            ["model"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.attempts = Counter(
            "pavedroad_upstream_attempts", "Upstream attempts by deployment and outcome.",
            ["deployment", "outcome"], registry=self.registry)
        self.upstream_errors = Counter(
            "pavedroad_upstream_errors", "Failed upstream attempts by deployment and error code.",
            ["deployment", "code"], registry=self.registry)
        self.breaker_state = Gauge(
            "pavedroad_breaker_state", "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.",
            ["deployment"], registry=self.registry)
        self.tokens = Counter(
            "pavedroad_tokens", "Tokens reported by upstreams, by model and kind.",
            ["model", "kind"], registry=self.registry)
        self.guardrail_findings = Counter(
            "pavedroad_guardrail_findings", "Guardrail findings by guardrail, category and the "
            "action the policy applied.", ["guardrail", "category", "action"],
            registry=self.registry)
        self._breaker_seen: dict[str, BreakerState] = {}
        # Labelled children by label values: `labels()` costs a few µs a call, and every
        # request touches several metrics with values that repeat.
        self._children: dict[tuple[object, ...], Any] = {}

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """`metric.labels(*values)`, remembered (as many entries as the metric has series)."""
        key = (id(metric), *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def attempt(self, deployment: str, outcome: str, seconds: float) -> None:
        self.child(self.attempts, deployment, "ok" if outcome == "ok" else "error").inc()
        if outcome != "ok":
            self.child(self.upstream_errors, deployment, outcome).inc()

    def breaker(self, deployment: str, state: BreakerState) -> None:
        if self._breaker_seen.get(deployment) is not state:
            self._breaker_seen[deployment] = state
            self.breaker_state.labels(deployment).set(int(state))

    def finding(self, guardrail: str, category: str, action: str) -> None:
        self.guardrail_findings.labels(guardrail, category, action).inc()

    def request(self, endpoint: str, model: str, code: str, seconds: float) -> None:
        self.child(self.requests, endpoint, model, code).inc()
        self.child(self.latency, endpoint, model).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
