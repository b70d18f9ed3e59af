"""Budget periods at their UTC edges, and the in-process BudgetStore's reserve/settle."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from pavedroad.budgets.model import Budget, to_nanos, to_usd, usd
from pavedroad.budgets.period import parse_period, window
from pavedroad.budgets.store import GRACE_SECONDS, Account, Balance, LocalBudgetStore


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("period", "instant", "label", "resets"), [
    ("day", "2025-06-30T23:59:59.999", "2025-06-30", "2025-07-01T00:00:00Z"),
    ("day", "2025-07-01T00:00:00", "2025-07-01", "2025-07-02T00:00:00Z"),
    ("week", "2025-06-29T23:59:59", "2025-06-23", "2025-06-30T00:00:00Z"),  # Sunday
    ("week", "2025-06-30T00:00:00", "2025-06-30", "2025-07-07T00:00:00Z"),  # Monday
    ("week", "2026-01-01T12:00:00", "2025-12-29", "2026-01-05T00:00:00Z"),  # across years
    ("month", "2025-06-30T23:59:59", "2025-06-01", "2025-07-01T00:00:00Z"),
    ("month", "2025-12-31T23:59:59", "2025-12-01", "2026-01-01T00:00:00Z"),
    ("month", "2024-02-29T10:00:00", "2024-02-01", "2024-03-01T00:00:00Z"),  # leap year
    ("total", "2025-06-30T12:00:00", "total", None),
])
def test_windows_are_utc_calendar_periods(period: str, instant: str, label: str,
                                          resets: str | None) -> None:
    current = window(parse_period(period), ts(instant))
    assert current.label == label
    assert current.resets_at() == resets
    assert current.start <= ts(instant) and (current.end is None or ts(instant) < current.end)
    assert current.start_day == (None if period == "total" else label)


def test_periods_accept_adjectives_and_refuse_the_rest() -> None:
    assert [parse_period(p) for p in ("daily", "Weekly", "month", "total")] == \
        ["day", "week", "month", "total"]
    with pytest.raises(ValueError, match="use day, week, month or total"):
        parse_period("quarter")


def test_budget_accounts_are_per_budget_and_window() -> None:
    budget = Budget("bud_1", "team", "team_1", "acme/search", "month", 100.0, 0.8, True, 0.0)
    june = budget.window(ts("2025-06-15T00:00:00"))
    july = budget.window(ts("2025-07-01T00:00:00"))
    assert budget.account(june) == "budget:bud_1:2025-06-01"
    assert budget.account(june) != budget.account(july)
    assert budget.limit_nanos == 100 * 10**9 and budget.soft_nanos == 80 * 10**9


def test_money_is_exact_in_nanos() -> None:
    assert to_nanos(0.005) * 10 == to_nanos(0.05)  # float sums would drift
    assert to_usd(to_nanos(12.345678912)) == pytest.approx(12.345678912)
    assert [usd(x) for x in (100, 1234.5, 0.05, 0.005, 0.0000001, 0)] == \
        ["$100.00", "$1,234.50", "$0.05", "$0.005", "$0.00", "$0.00"]


def hard(key: str, limit: int) -> Account:
    return Account(key, limit)


async def test_reserve_counts_flight_and_settle_moves_it_to_spent() -> None:
    store = LocalBudgetStore()
    acct = hard("a", 10)
    for _ in range(3):
        assert await store.reserve([acct], 3, holder="r") is None
    shortfall = await store.reserve([acct], 3, holder="r")  # 9 + 3 > 10
    assert shortfall is not None and shortfall.balance == Balance(spent=0, reserved=9)
    assert await store.settle([acct], reserved=3, actual=1, holder="r") == [1]
    assert (await store.balances(["a"])) == [Balance(spent=1, reserved=6)]
    assert await store.reserve([acct], 3, holder="r") is None  # exactly 10: allowed
    assert await store.reserve([acct], 0, holder="r") is not None  # used up: even free is refused


async def test_reserve_is_all_or_nothing_across_budgets() -> None:
    store = LocalBudgetStore()
    roomy, tight, counted = hard("roomy", 100), hard("tight", 5), Account("counted", None)
    shortfall = await store.reserve([roomy, tight, counted], 6, holder="r")
    assert shortfall is not None and shortfall.index == 1
    assert await store.balances(["roomy", "tight", "counted"]) == [Balance()] * 3
    assert await store.reserve([roomy, counted], 6, holder="r") is None
    assert await store.balances(["roomy", "counted"]) == [Balance(0, 6)] * 2


async def test_counted_only_budgets_never_block() -> None:
    store = LocalBudgetStore()
    soft_only = Account("s", None)
    for _ in range(5):
        assert await store.reserve([soft_only], 10**12, holder="r") is None


async def test_concurrent_reservations_never_pass_the_limit() -> None:
    store = LocalBudgetStore()
    acct = hard("a", 10 * 5_000_000)

    async def one() -> bool:
        await asyncio.sleep(0)
        return await store.reserve([acct], 5_000_000, holder="r") is None

    results = await asyncio.gather(*(one() for _ in range(200)))
    assert sum(results) == 10


async def test_seed_only_starts_unknown_accounts() -> None:
    store = LocalBudgetStore()
    assert await store.seed(hard("a", 100), 40)
    assert not await store.seed(hard("a", 100), 99)  # known: the store's own count wins
    assert await store.reserve([hard("a", 100)], 61, holder="r") is not None
    assert await store.reserve([hard("a", 100)], 60, holder="r") is None


async def test_once_fires_once_until_it_expires() -> None:
    now = [1000.0]
    store = LocalBudgetStore(clock=lambda: now[0])
    assert await store.once("alert:x", expires_at=2000.0)
    assert not await store.once("alert:x", expires_at=2000.0)
    now[0] = 2000.0 + GRACE_SECONDS + 1
    assert await store.once("alert:x", expires_at=9000.0)


async def test_accounts_of_ended_windows_are_forgotten() -> None:
    now = [1000.0]
    store = LocalBudgetStore(clock=lambda: now[0])
    await store.reserve([Account("old", 10, expires_at=1500.0)], 1, holder="r")
    now[0] = 1500.0 + GRACE_SECONDS + 1
    await store.seed(Account("new", 10, expires_at=99999.0), 0)
    assert await store.balances(["old"]) == [Balance()]
