"""The in-memory budget book: incremental refresh, seeding from the ledger once per period,
and no enforcement before a budget's account is seeded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pavedroad.budgets.model import Budget
from pavedroad.budgets.store import LocalBudgetStore
from pavedroad.core.types import Caller, Subject
from pavedroad.service.budgets import BudgetBook

CALLER = Caller(key_id="key_1", name="k", models=None, app=Subject("app_1", "a"),
                team_subject=Subject("team_1", "t"), tenant=Subject("ten_1", "acme"))


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


class Repository:
    def __init__(self) -> None:
        self.rows: list[Budget] = []
        self.asked: list[float] = []

    async def changed_since(self, since: float) -> list[Budget]:
        self.asked.append(since)
        return [b for b in self.rows if b.updated_at > since]


class Spend:
    def __init__(self, amounts: dict[str | None, int]) -> None:
        self.amounts = amounts
        self.asked: list[tuple[str, str, str | None]] = []

    async def spent(self, scope: str, subject_id: str, *, since_day: str | None) -> int:
        self.asked.append((scope, subject_id, since_day))
        return self.amounts.get(since_day, 0)


def budget(**fields: Any) -> Budget:
    values: dict[str, Any] = {"id": "bud_1", "scope": "team", "subject_id": "team_1",
                              "subject": "acme/t", "period": "month", "amount": 1.0,
                              "soft": None, "hard": True, "updated_at": 100.0}
    values.update(fields)
    return Budget(**values)


async def test_refresh_seeds_each_period_once_from_the_ledger() -> None:
    now = [ts("2025-06-30T23:59:00")]
    repository, store = Repository(), LocalBudgetStore(clock=lambda: now[0])
    spend = Spend({"2025-06-01": 400_000_000, "2025-07-01": 7})
    book = BudgetBook(repository, store, spend, clock=lambda: now[0])
    repository.rows.append(budget())
    await book.refresh()
    assert [b.id for b in book.applicable(CALLER, None)] == ["bud_1"]
    assert (await store.balances(["budget:bud_1:2025-06-01"]))[0].spent == 400_000_000
    await book.refresh()
    assert spend.asked == [("team", "team_1", "2025-06-01")]  # not again in the same period
    now[0] = ts("2025-07-01T00:00:01")
    await book.refresh()
    assert spend.asked[-1] == ("team", "team_1", "2025-07-01")
    assert (await store.balances(["budget:bud_1:2025-07-01"]))[0].spent == 7


async def test_changes_and_deletions_arrive_by_refresh() -> None:
    repository = Repository()
    book = BudgetBook(repository, LocalBudgetStore(), Spend({}))
    repository.rows.append(budget(scope="user", subject_id="ten_1/alice", updated_at=100.0))
    await book.refresh()
    assert book.applicable(CALLER, "bob") == []
    assert [b.scope for b in book.applicable(CALLER, "alice")] == ["user"]
    repository.rows[0] = budget(scope="user", subject_id="ten_1/alice", updated_at=200.0,
                                deleted=True)
    await book.refresh()
    assert book.applicable(CALLER, "alice") == [] and not book
    assert repository.asked[-1] == 100.0 - 5.0  # from the newest seen, minus clock slack


async def test_a_budget_is_not_enforced_before_its_account_is_seeded() -> None:
    repository, store = Repository(), LocalBudgetStore()

    class SlowSpend(Spend):
        async def spent(self, scope: str, subject_id: str, *, since_day: str | None) -> int:
            # While the ledger is being read, the budget must not be applied from zero.
            assert book.applicable(CALLER, None) == []
            return await super().spent(scope, subject_id, since_day=since_day)

    book = BudgetBook(repository, store, SlowSpend({}))
    repository.rows.append(budget(scope="key", subject_id="key_1"))
    await book.refresh()
    assert [b.scope for b in book.applicable(CALLER, None)] == ["key"]
