"""The `online_eval:` settings: which share of live traffic is scored, and by what.

docs/configuration.md documents every field; docs/adr/0018-red-team-and-online-eval.md says why
scoring happens off the request path.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_SCORERS = ("empty", "refusal", "length", "json_valid")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnlineEvalConfig(_Strict):
    """Score a sample of answered requests with cheap scorers (no model call), off the hot
    path; 0 everywhere (the default) turns it off."""

    sample_rate: float = Field(default=0.0, ge=0, le=1)
    # Per-app share, by app path (tenant/team/app) or app id; overrides `sample_rate`.
    apps: dict[str, float] = Field(default_factory=dict)
    scorers: list[str] = Field(default_factory=lambda: list(DEFAULT_SCORERS), min_length=1)
    max_chars: int = Field(default=8000, ge=1)  # the `length` scorer fails longer answers
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    batch_rows: int = Field(default=200, ge=1, le=10_000)  # samples scored per store write
    store: bool = True  # keep each score in the store (GET /admin/evals/online)

    @field_validator("apps")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for app, rate in value.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"the sample rate of app {app!r} must be between 0 and 1")
        return value

    @property
    def active(self) -> bool:
        return self.sample_rate > 0 or any(rate > 0 for rate in self.apps.values())
