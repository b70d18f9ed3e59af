"""OpenTelemetry traces of finished requests, following the GenAI semantic conventions.

Spans are built after a request ends, from what the exchange recorded (its start, each
upstream attempt, the timed guardrail steps), with their real timestamps: the request
path itself never touches the tracing SDK. One trace per request: a server span
`chat {model}`, a child `chat {upstream model}` client span per upstream attempt, and a
child per timed step (guardrails). Prompt and answer text are attached only when
`telemetry.tracing.capture_content` is on and the request's policy logs content in full.

The SDK is the optional `otel` extra (`pip install 'pavedroad[otel]'`), needed only
when `telemetry.tracing.otlp_endpoint` is set.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import orjson

from pavedroad.config.telemetry import TracingConfig
from pavedroad.service.pipeline import Exchange

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

# Attempts that never reached the upstream: recorded as events, not as spans.
_SKIPPED = frozenset({"disabled", "circuit_open", "rate_limited", "policy_denied"})


class ExchangeTracer:
    """An exchange observer that exports one trace per sampled request."""

    def __init__(self, config: TracingConfig, provider: TracerProvider) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

        self._config = config
        self._provider = provider
        self._tracer: Tracer = provider.get_tracer("pavedroad")
        self._kinds = (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL)
        self._status = (Status, StatusCode)
        self._in_context = set_span_in_context
        self._random = random.random

    def sample(self) -> bool:
        """Decided when a request starts, so stages know whether to time their steps."""
        return self._random() < self._config.sample_ratio

    def answering(self, exchange: Exchange) -> None:
        pass

    def ended(self, exchange: Exchange) -> None:
        if exchange.spans is None:
            return
        import time

        server, client, internal = self._kinds
        status_cls, code = self._status
        ended = time.perf_counter()

        def wall(perf: float) -> int:
            return int((exchange.started_at + (perf - exchange.started)) * 1e9)

        request = exchange.request
        root = self._tracer.start_span(
            f"chat {request.model}", kind=server, start_time=wall(exchange.started),
            attributes=_request_attributes(exchange))
        context = self._in_context(root)
        for attempt in exchange.trace.attempts:
            if attempt.outcome in _SKIPPED or attempt.seconds <= 0:
                root.add_event("pavedroad.route.skipped", {
                    "pavedroad.deployment": attempt.deployment,
                    "pavedroad.outcome": attempt.outcome}, timestamp=wall(attempt.ended))
                continue
            span = self._tracer.start_span(
                f"chat {attempt.deployment}", kind=client, context=context,
                start_time=wall(attempt.ended - attempt.seconds),
                attributes=_attempt_attributes(exchange, attempt.deployment, attempt.outcome))
            if attempt.outcome != "ok":
                span.set_status(status_cls(code.ERROR, attempt.outcome))
            span.end(end_time=wall(attempt.ended))
        for name, start, end, attributes in exchange.spans:
            step = self._tracer.start_span(name, kind=internal, context=context,
                                           start_time=wall(start), attributes=attributes)
            step.end(end_time=wall(end))
        for finding in exchange.findings:
            root.add_event("gen_ai.guardrail.finding", {
                "pavedroad.guardrail": finding.guardrail, "pavedroad.category": finding.category,
                "pavedroad.action": finding.action, "pavedroad.direction": finding.direction,
                "pavedroad.score": finding.score, "pavedroad.source": finding.source})
        if self._config.capture_content and _content_allowed(exchange):
            root.set_attribute("gen_ai.input.messages",
                               orjson.dumps(request.body.get("messages", [])).decode())
            if exchange.answer is not None:
                root.set_attribute("gen_ai.output.messages", orjson.dumps(
                    [{"role": "assistant", "content": "".join(exchange.answer)}]).decode())
        if exchange.outcome not in ("ok", "client_closed"):
            root.set_attribute("error.type", exchange.outcome)
            root.set_status(status_cls(code.ERROR, exchange.outcome))
        root.end(end_time=wall(ended))

    def shutdown(self) -> None:
        self._provider.shutdown()  # flushes what the batch processor holds


def _content_allowed(exchange: Exchange) -> bool:
    return exchange.policy is not None and exchange.policy.logging == "full"


def _request_attributes(exchange: Exchange) -> dict[str, Any]:
    request = exchange.request
    caller = request.caller
    body = request.body
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": request.model,
        "pavedroad.request_id": request.request_id,
        "pavedroad.endpoint": exchange.endpoint,
        "pavedroad.outcome": exchange.outcome,
        "pavedroad.key_id": caller.key_id,
        "pavedroad.route": exchange.trace.header(),
        "pavedroad.cache_hit": exchange.cache_hit,
        "pavedroad.stream": request.stream,
    }
    for field, name in (("max_tokens", "gen_ai.request.max_tokens"),
                        ("temperature", "gen_ai.request.temperature"),
                        ("top_p", "gen_ai.request.top_p"), ("seed", "gen_ai.request.seed")):
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[name] = value
    for subject, name in ((caller.app, "pavedroad.app"), (caller.team_subject, "pavedroad.team"),
                          (caller.tenant, "pavedroad.tenant")):
        if subject is not None:
            attributes[name] = subject.name
    if exchange.deployment is not None:
        attributes["gen_ai.provider.name"] = exchange.deployment.provider_kind
        attributes["gen_ai.response.model"] = exchange.deployment.config.model
        attributes["pavedroad.deployment"] = exchange.deployment.name
    if exchange.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = exchange.usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = exchange.usage.completion_tokens
    if exchange.cost is not None:
        attributes["pavedroad.cost_usd"] = exchange.cost
    if exchange.first_token_at is not None:
        attributes["pavedroad.time_to_first_token_s"] = exchange.first_token_at - exchange.started
    if exchange.policy is not None:
        attributes["pavedroad.policy.allowed"] = exchange.policy.allowed
        attributes["pavedroad.policy.logging"] = exchange.policy.logging
        if exchange.policy.policy_version:
            attributes["pavedroad.policy.version"] = exchange.policy.policy_version
    return attributes


def _attempt_attributes(exchange: Exchange, deployment: str, outcome: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"gen_ai.operation.name": "chat",
                                  "pavedroad.deployment": deployment,
                                  "pavedroad.outcome": outcome}
    if exchange.deployment is not None and exchange.deployment.name == deployment:
        attributes["gen_ai.provider.name"] = exchange.deployment.provider_kind
        attributes["gen_ai.request.model"] = exchange.deployment.config.model
    if outcome != "ok":
        attributes["error.type"] = outcome
    return attributes


def build_tracer(config: TracingConfig) -> ExchangeTracer | None:
    """The tracer when an OTLP endpoint is configured; None otherwise (no SDK needed)."""
    if config.otlp_endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    endpoint = config.otlp_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint, headers=dict(config.headers)),
        schedule_delay_millis=1000))
    return ExchangeTracer(config, provider)
