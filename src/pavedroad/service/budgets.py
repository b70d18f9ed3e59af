"""Budget enforcement: definitions held in memory, a stage that reserves each request's
worst-case cost before the call and settles it to the actual cost after, and alerts.

Definitions are refreshed from the store like keys (never queried per request). When a
budget is first seen, or its period rolls over, its account is seeded from the ledger, so
spend in the current period survives a restart (docs/adr/0008-limits-and-budgets.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

from pavedroad.budgets.model import Budget, to_nanos, to_usd, usd, user_subject
from pavedroad.budgets.period import Window
from pavedroad.budgets.store import GRACE_SECONDS, Account, Balance, BudgetStore
from pavedroad.config.models import ModelConfig
from pavedroad.core.errors import BackendUnavailable, BudgetExceeded
from pavedroad.core.types import Caller, ChatRequest
from pavedroad.metering.cost import route_deployments, worst_case_cost
from pavedroad.metering.prices import PriceCatalog
from pavedroad.metering.tags import USER_HEADER, end_user
from pavedroad.service.background import Spawn
from pavedroad.service.degraded import Degraded
from pavedroad.service.pipeline import ChatResult, Exchange, Next

log = logging.getLogger("pavedroad.budgets")
_CLOCK_SLACK = 5.0
SETTLE_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # about a minute in all


class SpendSource(Protocol):
    """What a subject spent since a UTC day (None: ever), in nano-USD: the ledger."""

    async def spent(self, scope: str, subject_id: str, *, since_day: str | None) -> int: ...


class BudgetChanges(Protocol):
    """Budgets changed (or marked deleted) since a time: the store's budget table."""

    async def changed_since(self, since: float) -> list[Budget]: ...


class CostEstimator(Protocol):
    def worst_case(self, request: ChatRequest) -> float:
        """The most the request can cost in USD, whichever deployment serves it."""
        ...


class RouteCostEstimator:
    """Worst case over every deployment the model's route can reach (metering's prices)."""

    def __init__(self, models: Mapping[str, ModelConfig], catalog: PriceCatalog, *,
                 default_max_tokens: int) -> None:
        self._targets = {name: route_deployments(model) for name, model in models.items()}
        self._catalog = catalog
        self._default_max_tokens = default_max_tokens

    def worst_case(self, request: ChatRequest) -> float:
        return worst_case_cost(request.body, self._targets.get(request.model, ()), self._catalog,
                               default_max_tokens=self._default_max_tokens)


def _account(budget: Budget, current: Window) -> Account:
    expires = None if current.end is None else current.end + GRACE_SECONDS
    return Account(budget.account(current), budget.limit_nanos if budget.hard else None, expires)


class BudgetBook:
    """Every live budget, by the subject it applies to."""

    def __init__(self, repository: BudgetChanges, store: BudgetStore, spend: SpendSource, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._repository = repository
        self._store = store
        self._spend = spend
        self._clock = clock
        self._budgets: dict[str, Budget] = {}
        self._by_subject: dict[tuple[str, str], list[Budget]] = {}
        self._seeded: set[str] = set()  # accounts this process started from the ledger
        self._ready: set[str] = set()  # budgets seeded at least once: safe to enforce
        self._high_water = 0.0
        self._dirty = True  # budgets changed since the last complete seeding
        self._next_rollover = 0.0  # when the soonest current window ends
        self._generation: str | None = None  # the store's contents this process seeded
        self._unseeded = False  # the last seeding failed (a shared store unreachable)
        self._seeding = asyncio.Lock()  # the refresher and admin calls may seed at once

    def __bool__(self) -> bool:
        return bool(self._by_subject)

    async def refresh(self) -> int:
        """Pull budgets changed since the last refresh, then seed accounts that need it."""
        changed = await self._repository.changed_since(self._high_water - _CLOCK_SLACK)
        for budget in changed:
            self._high_water = max(self._high_water, budget.updated_at)
            if budget.deleted:
                self._budgets.pop(budget.id, None)
            else:
                self._budgets[budget.id] = budget
        if changed:
            self._dirty = True
            self._reindex()
        await self.seed()
        return len(changed)

    async def adopt(self, budget: Budget) -> None:
        """A budget this gateway just set or deleted: apply it now, not at the next refresh."""
        if budget.deleted:
            self._budgets.pop(budget.id, None)
        else:
            self._budgets[budget.id] = budget
        self._dirty = True
        self._reindex()
        await self.seed()

    def _reindex(self) -> None:
        index: dict[tuple[str, str], list[Budget]] = {}
        for budget in self._budgets.values():
            if budget.id in self._ready:
                index.setdefault((budget.scope, budget.subject_id), []).append(budget)
        self._by_subject = index

    async def seed(self) -> None:
        """Start each budget's current account from the ledger, once per period. A budget
        is enforced only once seeded, so its first requests cannot start from zero.

        A shared store that lost its contents (Redis restarted empty) is seeded again in
        full; while it cannot be reached, seeding waits for a later refresh."""
        async with self._seeding:
            try:
                generation = await self._store.generation()
                if generation is None or generation != self._generation:
                    self._seeded.clear()
                    self._dirty = True
                await self._seed()
                if generation is None or generation != self._generation:
                    self._generation = await self._store.mark_seeded()
                self._unseeded = False
            except BackendUnavailable as exc:
                self._dirty = True
                if not self._unseeded:
                    log.warning("budget accounts not seeded: %s; retrying at every refresh", exc)
                self._unseeded = True

    async def _seed(self) -> None:
        now = self._clock()
        if not self._dirty and now < self._next_rollover:
            return  # nothing new, no period over: the usual refresh tick costs nothing
        current: set[str] = set()
        fresh = False
        next_rollover = math.inf
        for budget in list(self._budgets.values()):
            window = budget.window(now)
            next_rollover = min(next_rollover, math.inf if window.end is None else window.end)
            account = _account(budget, window)
            current.add(account.key)
            if account.key not in self._seeded:
                spent = await self._spend.spent(budget.scope, budget.subject_id,
                                                since_day=window.start_day)
                await self._store.seed(account, spent)
                self._seeded.add(account.key)
                soft = budget.soft_nanos
                if soft is not None and spent >= soft:  # alerted before this process started
                    await self._store.once(f"alert:{account.key}", expires_at=account.expires_at)
            if budget.id not in self._ready:
                self._ready.add(budget.id)
                fresh = True
        self._seeded &= current
        self._ready &= set(self._budgets)
        self._dirty, self._next_rollover = False, next_rollover
        if fresh:
            self._reindex()

    def applicable(self, caller: Caller, user: str | None) -> list[Budget]:
        """The budgets of the caller's key, app, team and tenant, and of the end user."""
        index = self._by_subject
        found: list[Budget] = []
        found += index.get(("key", caller.key_id), ())
        for scope, subject in (("app", caller.app), ("team", caller.team_subject),
                               ("tenant", caller.tenant)):
            if subject is not None:
                found += index.get((scope, subject.id), ())
        if user is not None and caller.tenant is not None:
            found += index.get(("user", user_subject(caller.tenant.id, user)), ())
        return found


class BudgetAlerts:
    """Soft thresholds crossed: a metric and one log line per budget and period."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter("pavedroad_budget_alerts",
                              "Budgets whose spend crossed their soft threshold, once per period.",
                              ["scope"], registry=registry)

    def crossed(self, budget: Budget, spent: int, window: Window) -> None:
        self.alerts.labels(budget.scope).inc()
        share = 100 * to_usd(spent) / budget.amount if budget.amount else 100.0
        log.warning("budget alert: %s; spent %s (%.0f%%) in the period from %s (budget %s)",
                    budget.describe(), usd(to_usd(spent)), share, window.label, budget.id)


class BudgetGuard:
    """The budget stage: reserve the worst case across every applicable budget at once
    (all or none), call, then settle to the actual cost in a finalizer."""

    def __init__(self, book: BudgetBook, store: BudgetStore, estimator: CostEstimator, *,
                 alerts: BudgetAlerts, spawn: Spawn, degraded: Degraded | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._book = book
        self._degraded = degraded or Degraded()
        self._store = store
        self._estimator = estimator
        self._alerts = alerts
        self._spawn = spawn
        self._clock = clock
        self._alerted: dict[str, float | None] = {}  # alert markers seen: expiry

    async def __call__(self, exchange: Exchange, call_next: Next) -> ChatResult:
        if not self._book:
            return await call_next(exchange)
        request = exchange.request
        if exchange.end_user is None:
            exchange.end_user = end_user(request.headers.get(USER_HEADER), request.body.get("user"))
        budgets = self._book.applicable(request.caller, exchange.end_user)
        if not budgets:
            return await call_next(exchange)
        now = self._clock()
        windows = [budget.window(now) for budget in budgets]
        accounts = [_account(b, w) for b, w in zip(budgets, windows, strict=True)]
        amount = (to_nanos(self._estimator.worst_case(request))
                  if any(b.hard for b in budgets) else 0)
        try:
            shortfall = await self._store.reserve(accounts, amount, holder=request.request_id)
        except BackendUnavailable as exc:  # shared accounts unreachable: the app decides
            self._degraded.admit(request.caller, "budgets", exc)
            return await call_next(exchange)
        if shortfall is not None:
            i = shortfall.index
            raise _exceeded(budgets[i], windows[i], shortfall.balance, amount)
        exchange.on_end(lambda ended: self._spawn(
            self._settle(ended, budgets, windows, accounts, amount)))
        return await call_next(exchange)

    async def _settle(self, exchange: Exchange, budgets: Sequence[Budget],
                      windows: Sequence[Window], accounts: Sequence[Account], amount: int) -> None:
        if exchange.cost is not None:
            actual = to_nanos(exchange.cost)
        elif exchange.deployment is None:
            actual = 0  # nothing reached an upstream: nothing was billed
        else:
            actual = amount  # served but unpriced: what was reserved for it stays spent
        spent = await self._settled(accounts, amount, actual, exchange.request.request_id)
        if spent is None:
            return
        for budget, window, account, total in zip(budgets, windows, accounts, spent, strict=True):
            soft = budget.soft_nanos
            marker = f"alert:{account.key}"
            if soft is None or total < soft or marker in self._alerted:
                continue
            self._remember_alert(marker, account.expires_at)
            try:
                first = await self._store.once(marker, expires_at=account.expires_at)
            except BackendUnavailable:
                first = True  # better an alert twice than none
            if first:
                self._alerts.crossed(budget, total, window)

    async def _settled(self, accounts: Sequence[Account], amount: int, actual: int,
                       holder: str) -> list[int] | None:
        """Settle, retrying through a shared store's short outage (a late settlement is
        safe: it releases only what this holder still holds). After that the spend is
        only in the ledger, and the account under-counts it until its period ends."""
        failure: BackendUnavailable | None = None
        for delay in (*SETTLE_RETRY_SECONDS, None):
            try:
                return await self._store.settle(accounts, reserved=amount, actual=actual,
                                                holder=holder)
            except BackendUnavailable as exc:
                failure = exc
                if delay is not None:
                    await asyncio.sleep(delay)
        assert failure is not None
        self._degraded.not_settled("budgets", failure)
        return None

    def _remember_alert(self, marker: str, expires_at: float | None) -> None:
        if len(self._alerted) >= 1024:  # forget periods long over, so this cannot grow
            now = self._clock()
            self._alerted = {m: at for m, at in self._alerted.items() if at is None or at > now}
        self._alerted[marker] = expires_at


def _exceeded(budget: Budget, window: Window, balance: Balance, amount: int) -> BudgetExceeded:
    resets = window.resets_at()
    held = (f" ({usd(to_usd(balance.reserved))} of it held by requests in flight)"
            if balance.reserved else "")
    return BudgetExceeded(
        f"budget exceeded: {budget.describe()} and has spent {usd(to_usd(balance.committed))}"
        f"{held}; this request could cost up to {usd(to_usd(amount))}"
        + (f"; it resets at {resets}" if resets else ""),
        budget={"id": budget.id, "scope": budget.scope, "subject": budget.subject,
                "period": budget.period, "amount": budget.amount,
                "spent": to_usd(balance.committed), "reserved": to_usd(balance.reserved),
                "resets_at": resets})
