"""Budget management use cases (admin API and CLI): set, list with spend, delete."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from pavedroad.audit.record import AdminAudit
from pavedroad.budgets.model import SCOPES, Budget, to_usd, user_subject
from pavedroad.budgets.period import parse_period
from pavedroad.budgets.store import Balance, BudgetStore
from pavedroad.core.errors import InvalidRequest, NotFound
from pavedroad.service.budgets import BudgetBook, SpendSource
from pavedroad.service.org import OrgDirectory
from pavedroad.store.budgets import BudgetRepository
from pavedroad.store.keys import KeyRepository

MAX_USER_CHARS = 256


@dataclass(slots=True, frozen=True)
class BudgetView:
    """A budget with what was spent in its current period."""

    budget: Budget
    spent: float  # USD settled
    reserved: float  # USD held by requests in flight (0 when read from the ledger)
    resets_at: str | None

    @property
    def remaining(self) -> float:
        return max(0.0, self.budget.amount - self.spent - self.reserved)

    def public(self) -> dict[str, Any]:
        return {**self.budget.public(), "spent": round(self.spent, 9),
                "reserved": round(self.reserved, 9), "remaining": round(self.remaining, 9),
                "resets_at": self.resets_at}


class BudgetAdmin:
    """On a gateway, spend comes from its live counters (reservations included) and changes
    apply at once; from the CLI, spend is the ledger's and gateways see changes on refresh."""

    def __init__(
        self, repository: BudgetRepository, directory: OrgDirectory, keys: KeyRepository,
        spend: SpendSource, *, book: BudgetBook | None = None, store: BudgetStore | None = None,
        audit: AdminAudit | None = None,
    ) -> None:
        self.audit = audit
        self._repository = repository
        self._directory = directory
        self._keys = keys
        self._spend = spend
        self._book = book
        self._store = store

    async def set(
        self, *, scope: str, subject: str, amount: float, period: str = "month",
        soft: float | None = None, hard: bool = True, actor: str = "cli",
    ) -> tuple[BudgetView, bool]:
        """Create the budget of (scope, subject, period), or change it; and whether created."""
        if scope not in SCOPES:
            raise InvalidRequest(f"scope {scope!r}: use one of {', '.join(SCOPES)}",
                                 param="scope")
        try:
            which = parse_period(period)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="period") from None
        if not math.isfinite(amount) or amount < 0:
            raise InvalidRequest("amount must be a number of USD, 0 or more", param="amount")
        if soft is not None and not (math.isfinite(soft) and 0 < soft <= 1):
            raise InvalidRequest("soft is the share of the amount that raises an alert: "
                                 "more than 0 and at most 1 (e.g. 0.8)", param="soft")
        subject_id, display = await self._resolve(scope, subject)
        before = next((b.public() for b in await self._repository.all()
                       if (b.scope, b.subject_id, b.period) == (scope, subject_id, which)), None)
        budget, created = await self._repository.put(
            scope=scope, subject_id=subject_id, subject=display, period=which, amount=amount,
            soft=soft, hard=hard)
        if self._book is not None:
            await self._book.adopt(budget)
        await self._audited(actor, "budget.set", budget, before, budget.public())
        return (await self._views([budget]))[0], created

    async def all(self) -> list[BudgetView]:
        return await self._views(await self._repository.all())

    async def delete(self, budget_id: str, *, actor: str = "cli") -> Budget:
        before = next((b.public() for b in await self._repository.all() if b.id == budget_id),
                      None)
        budget = await self._repository.delete(budget_id)
        if budget is None:
            raise NotFound(f"no budget {budget_id!r}; `GET /admin/budgets` lists them")
        if self._book is not None:
            await self._book.adopt(budget)
        await self._audited(actor, "budget.delete", budget, before, None)
        return budget

    async def tenant_of(self, budget: Budget) -> str | None:
        """The tenant a budget's subject belongs to (tenant admins see only theirs)."""
        directory = self._directory
        if budget.scope == "tenant":
            return budget.subject_id
        if budget.scope == "user":
            return budget.subject_id.partition("/")[0]
        if budget.scope == "team":
            team = directory.teams.get(budget.subject_id)
            return team.tenant_id if team else None
        app_id = budget.subject_id
        if budget.scope == "key":
            key = await self._keys.find(budget.subject_id)
            app_id = key.app_id if key else ""
        chain = directory.chain(app_id)
        return chain[2].id if chain else None

    async def _audited(self, actor: str, action: str, budget: Budget, before: Any,
                       after: Any) -> None:
        if self.audit is not None:
            await self.audit.admin_action(actor=actor, action=action, target=budget.id,
                                          before=before, after=after,
                                          tenant_id=await self.tenant_of(budget))

    async def _resolve(self, scope: str, ref: str) -> tuple[str, str]:
        """A subject as people name it -> (its id, its display name)."""
        directory = self._directory
        await directory.refresh()
        if scope == "key":
            key = await self._keys.find(ref)
            if key is None:
                raise NotFound(f"no key {ref!r} (give its id, or its name when unique)",
                               param="subject")
            return key.id, key.name
        if scope == "tenant":
            tenant = directory.tenant(ref)
            return tenant.id, tenant.name
        if scope == "team":
            team = directory.team(ref)
            return team.id, f"{directory.tenants[team.tenant_id].name}/{team.name}"
        if scope == "app":
            app = directory.app(ref)
            return app.id, directory.path(app.id)
        tenant_ref, _, user = ref.partition("/")
        if not user or len(user) > MAX_USER_CHARS:
            raise InvalidRequest("an end user's budget names the tenant too: `tenant/user` "
                                 f"(the user at most {MAX_USER_CHARS} characters)",
                                 param="subject")
        tenant = directory.tenant(tenant_ref)
        return user_subject(tenant.id, user), f"{tenant.name}/{user}"

    async def _views(self, budgets: list[Budget]) -> list[BudgetView]:
        now = time.time()
        views = []
        for budget in budgets:
            window = budget.window(now)
            if self._store is not None:
                balance = (await self._store.balances([budget.account(window)]))[0]
            else:
                balance = Balance(spent=await self._spend.spent(
                    budget.scope, budget.subject_id, since_day=window.start_day))
            views.append(BudgetView(budget, to_usd(balance.spent), to_usd(balance.reserved),
                                    window.resets_at()))
        return views
