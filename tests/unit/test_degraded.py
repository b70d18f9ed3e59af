"""Shared state unreachable: the app's fail mode decides for rate limits, budgets and
deployment limits; a shared store that lost its contents is seeded again in full."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pavedroad.budgets.model import Budget
from pavedroad.budgets.store import Account, LocalBudgetStore, Shortfall
from pavedroad.core.errors import BackendUnavailable, StoreUnavailable
from pavedroad.core.types import Caller, ChatRequest, ChatResponse, Limits, Subject
from pavedroad.limits.counter import Admission, Claim
from pavedroad.limits.deployment import NO_PERMIT, DeploymentLimiter
from pavedroad.service.budgets import BudgetAlerts, BudgetBook, BudgetGuard
from pavedroad.service.degraded import Degraded
from pavedroad.service.limits import RateLimits
from pavedroad.service.pipeline import ChatResult, Exchange

OPEN = Caller(key_id="key_1", name="k", models=None, key_limits=Limits(rpm=10),
              app=Subject("app_1", "a"), team_subject=Subject("team_1", "t"),
              tenant=Subject("ten_1", "acme"))
CLOSED = replace(OPEN, fail_open=False)
BUDGET = Budget("bud_1", "key", "key_1", "k", "month", 1.0, None, True, 100.0)


class DownCounters:
    async def take(self, claims: Sequence[Claim], *, holder: str) -> Admission:
        raise BackendUnavailable("redis: connection refused")

    async def give(self, claims: Sequence[Claim], *, holder: str) -> None:
        raise BackendUnavailable("redis: connection refused")


class DownBudgets(LocalBudgetStore):
    async def reserve(self, accounts: Sequence[Account], amount: int, *,
                      holder: str) -> Shortfall | None:
        raise BackendUnavailable("redis: connection refused")


class Changes:
    async def changed_since(self, since: float) -> list[Budget]:
        return [BUDGET]


class Ledger:
    def __init__(self) -> None:
        self.asked = 0

    async def spent(self, scope: str, subject_id: str, *, since_day: str | None) -> int:
        self.asked += 1
        return 100


class Estimate:
    def worst_case(self, request: ChatRequest) -> float:
        return 0.001


def exchange(caller: Caller) -> Exchange:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return Exchange(ChatRequest("m", body, "req_1", caller), "chat")


async def served(exchange: Exchange) -> ChatResult:
    return ChatResponse({"choices": []})


def outcomes(degraded: Degraded) -> dict[tuple[str, str], float]:
    return {(s.labels["part"], s.labels["outcome"]): s.value
            for metric in degraded.count.collect() for s in metric.samples
            if s.name.endswith("_total")}


async def test_rate_limits_fail_open_or_closed_by_the_app() -> None:
    degraded = Degraded(CollectorRegistry())
    stage = RateLimits(DownCounters(), spawn=lambda work: work.close(), degraded=degraded)
    assert isinstance(await stage(exchange(OPEN), served), ChatResponse)
    with pytest.raises(StoreUnavailable, match="fail closed"):
        await stage(exchange(CLOSED), served)
    assert outcomes(degraded) == {("rate_limits", "allowed"): 1.0,
                                  ("rate_limits", "refused"): 1.0}


async def test_budgets_fail_open_or_closed_by_the_app() -> None:
    store, degraded = DownBudgets(), Degraded(CollectorRegistry())
    book = BudgetBook(Changes(), store, Ledger())
    await book.refresh()
    stage = BudgetGuard(book, store, Estimate(), alerts=BudgetAlerts(CollectorRegistry()),
                        spawn=lambda work: work.close(), degraded=degraded)
    assert isinstance(await stage(exchange(OPEN), served), ChatResponse)
    with pytest.raises(StoreUnavailable):
        await stage(exchange(CLOSED), served)


async def test_deployment_limits_fail_open_or_closed_by_the_app() -> None:
    gate = DeploymentLimiter(DownCounters(), {"d": Limits(rpm=5)},
                             spawn=lambda work: work.close(), unavailable=Degraded())
    request: Any = exchange(OPEN).request
    assert await gate.admit("d", request, holder="req_1") is NO_PERMIT
    with pytest.raises(StoreUnavailable):
        await gate.admit("d", exchange(CLOSED).request, holder="req_1")


async def test_a_store_that_lost_its_contents_is_seeded_again_in_full() -> None:
    class Forgetful(LocalBudgetStore):
        generation_id: str | None = None

        async def generation(self) -> str | None:
            return self.generation_id

        async def mark_seeded(self) -> str:
            self.generation_id = self.generation_id or "g1"
            return self.generation_id

    store, ledger = Forgetful(), Ledger()
    book = BudgetBook(Changes(), store, ledger)
    await book.refresh()
    await book.refresh()
    assert ledger.asked == 1  # seeded once, then nothing to do
    store.generation_id = None  # Redis restarted empty
    await book.refresh()
    assert ledger.asked == 2 and store.generation_id == "g1"
    store.generation_id = "g2"  # another replica seeded first: seed too (set-if-absent)
    await book.refresh()
    assert ledger.asked == 3
    await book.refresh()
    assert ledger.asked == 3
