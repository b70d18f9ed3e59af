"""A budget: how much one subject (a key, app, team, tenant or end user) may spend per
period, and what happens at its thresholds. Money inside is whole nano-USD (1e-9 USD), as
in the ledger, so sums are exact and a shared store can add them atomically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pavedroad.budgets.period import Period, Window, adjective, window

Scope = Literal["key", "app", "team", "tenant", "user"]
SCOPES: tuple[Scope, ...] = ("key", "app", "team", "tenant", "user")
NANOS_PER_USD = 1_000_000_000


def to_nanos(usd: float) -> int:
    return round(usd * NANOS_PER_USD)


def to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


def usd(amount: float) -> str:
    """Money for people: cents at least, and the digits that matter below them ($0.005)."""
    whole, _, cents = f"{amount:,.6f}".rstrip("0").partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def user_subject(tenant_id: str, user: str) -> str:
    """End users are named by the caller, so they are only unique within a tenant."""
    return f"{tenant_id}/{user}"


@dataclass(slots=True, frozen=True)
class Budget:
    id: str
    scope: Scope
    subject_id: str  # a key, app, team or tenant id; for users `<tenant id>/<user>`
    subject: str  # how people name it: key name, `tenant/team/app`, `tenant/team`, …
    period: Period
    amount: float  # USD
    soft: float | None  # the share of `amount` whose crossing raises an alert; None: none
    hard: bool  # block requests that could take spend past `amount`
    updated_at: float
    deleted: bool = False

    @property
    def limit_nanos(self) -> int:
        return to_nanos(self.amount)

    @property
    def soft_nanos(self) -> int | None:
        return None if self.soft is None else to_nanos(self.amount * self.soft)

    def window(self, now: float) -> Window:
        return window(self.period, now)

    def account(self, current: Window) -> str:
        """The counter of this budget's spend in one window. Per budget, not per subject: a
        budget deleted and set again starts from the ledger, not from a stale counter."""
        return f"budget:{self.id}:{current.label}"

    def describe(self) -> str:
        return (f"{self.scope} {self.subject!r} has a {adjective(self.period)} budget of "
                f"{usd(self.amount)}")

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "scope": self.scope, "subject": self.subject,
                "subject_id": self.subject_id, "period": self.period, "amount": self.amount,
                "soft": self.soft, "hard": self.hard, "updated_at": self.updated_at}
