"""Settings for traces, service-level objectives and alerts (docs/telemetry.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TracingConfig(_Strict):
    """OpenTelemetry traces, exported over OTLP/HTTP only when an endpoint is set."""

    otlp_endpoint: str | None = None  # e.g. http://collector:4318 (the SDK appends /v1/traces)
    headers: dict[str, str] = Field(default_factory=dict)
    service_name: str = "pavedroad"
    sample_ratio: float = Field(default=1.0, ge=0, le=1)
    # Prompt and answer text in spans: only when this is on AND the request's policy logs
    # content in full.
    capture_content: bool = False


class SLOConfig(_Strict):
    """One app's objectives; requests of the app are good or bad against each of them."""

    app: str = Field(min_length=1, description="an app's name or id, or * for every app")
    availability: float | None = Field(default=None, gt=0, lt=1)  # share not failing with 5xx
    latency_ms: float | None = Field(default=None, gt=0)  # a request slower than this is bad
    latency_target: float = Field(default=0.99, gt=0, lt=1)  # share that must be faster

    @model_validator(mode="after")
    def _something(self) -> SLOConfig:
        if self.availability is None and self.latency_ms is None:
            raise ValueError("an SLO needs `availability`, `latency_ms` or both")
        return self


class BurnWindowConfig(_Strict):
    """Fire when the error budget burns `factor` times too fast over both windows."""

    long_seconds: float = Field(gt=0)
    short_seconds: float = Field(gt=0)
    factor: float = Field(gt=0)
    severity: Literal["page", "ticket"] = "page"

    @model_validator(mode="after")
    def _ordered(self) -> BurnWindowConfig:
        if self.short_seconds >= self.long_seconds:
            raise ValueError("short_seconds must be shorter than long_seconds")
        return self


def _default_windows() -> list[BurnWindowConfig]:
    # The two classic pairs: 2% of a 30-day budget in an hour, 5% in six hours.
    return [BurnWindowConfig(long_seconds=3600, short_seconds=300, factor=14.4, severity="page"),
            BurnWindowConfig(long_seconds=21600, short_seconds=1800, factor=6, severity="ticket")]


class CostAnomalyConfig(_Strict):
    """Spend rate over `window_seconds` far above the app's rate over `baseline_seconds`."""

    enabled: bool = True
    window_seconds: float = Field(default=900, gt=0)
    baseline_seconds: float = Field(default=86400, gt=0)
    factor: float = Field(default=5.0, gt=1)
    min_usd: float = Field(default=1.0, ge=0)  # ignore windows that spent less than this

    @model_validator(mode="after")
    def _ordered(self) -> CostAnomalyConfig:
        if self.window_seconds >= self.baseline_seconds:
            raise ValueError("window_seconds must be shorter than baseline_seconds")
        return self


class AlertsConfig(_Strict):
    enabled: bool = True
    webhook_url: str | None = None
    webhook_headers: dict[str, str] = Field(default_factory=dict)
    evaluate_seconds: float = Field(default=15.0, gt=0, le=3600)
    min_requests: int = Field(default=20, ge=1)  # in the short window, before an SLO alert fires
    burn_windows: list[BurnWindowConfig] = Field(default_factory=_default_windows, min_length=1)
    cost_anomaly: CostAnomalyConfig = Field(default_factory=CostAnomalyConfig)


class TelemetryConfig(_Strict):
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    slos: list[SLOConfig] = Field(default_factory=list)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
