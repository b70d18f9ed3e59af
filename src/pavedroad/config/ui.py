"""Settings of the web dashboard served at /ui (docs/dashboard.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # How long a login lasts; the session is also dropped at logout.
    session_ttl_seconds: float = Field(default=8 * 3600.0, gt=0, le=30 * 86400)
    # auto: the cookie is `Secure` when the request came over https (or a proxy said so in
    # x-forwarded-proto); always / never force it.
    cookie_secure: Literal["auto", "always", "never"] = "auto"
