"""The `policy:` and `safe_mode:` settings: where policies live, the app vocabularies, and
what safe mode answers with. docs/configuration.md and docs/policy.md document them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyConfig(_Strict):
    # A policy file or a directory of them; None: the default policy shipped in the package.
    path: Path | None = None
    risk_classes: list[str] = Field(default_factory=lambda: ["minimal", "limited", "high"],
                                    min_length=1)
    data_classifications: list[str] = Field(
        default_factory=lambda: ["public", "internal", "confidential", "restricted"],
        min_length=1)
    default_risk_class: str = "minimal"
    default_data_classification: str = "internal"
    # Characters an output guardrail holds back on a stream (at least the longest match a
    # detector must see whole).
    stream_window: int = Field(default=64, ge=1, le=65536)

    @model_validator(mode="after")
    def _defaults_known(self) -> PolicyConfig:
        if self.default_risk_class not in self.risk_classes:
            raise ValueError("default_risk_class must be one of risk_classes")
        if self.default_data_classification not in self.data_classifications:
            raise ValueError("default_data_classification must be one of data_classifications")
        return self


class SafeModeTarget(_Strict):
    """What a request in safe mode gets: a fixed answer, or the designated safe deployment."""

    response: str | None = None
    deployment: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SafeModeTarget:
        if (self.response is None) == (self.deployment is None):
            raise ValueError("safe mode needs exactly one of `response` or `deployment`")
        return self


class SafeModeConfig(_Strict):
    # Used unless a more specific scope names its own target (app > model > provider).
    default: SafeModeTarget = Field(default_factory=lambda: SafeModeTarget(
        response="This assistant is temporarily in safe mode and cannot answer right now."))
    apps: dict[str, SafeModeTarget] = Field(default_factory=dict)  # by app path or id
    models: dict[str, SafeModeTarget] = Field(default_factory=dict)
    providers: dict[str, SafeModeTarget] = Field(default_factory=dict)
