"""Budget periods at their UTC edges, and the BudgetStore contract (reserve, settle, seed,
once) in process and in Redis; then what only the shared store has (leases, lost state)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from pavedroad.budgets.model import Budget, to_nanos, to_usd, usd
from pavedroad.budgets.period import parse_period, window
from pavedroad.budgets.redis_store import RedisBudgetStore
from pavedroad.budgets.store import GRACE_SECONDS, Account, Balance
from pavedroad.core.errors import BackendUnavailable
from pavedroad.store.redis import RedisConnection
from tests.support.backends import LEASE_SECONDS, Backend


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


async def test_reserve_counts_flight_and_settle_moves_it_to_spent(backend: Backend) -> None:
    store = await backend.budgets()
    acct = hard("a", 10)
    for _ in range(3):
        assert await store.reserve([acct], 3, holder="r") is None
    shortfall = await store.reserve([acct], 3, holder="r")  # 9 + 3 > 10
    assert shortfall is not None and shortfall.balance == Balance(spent=0, reserved=9)
    assert await store.settle([acct], reserved=3, actual=1, holder="r") == [1]
    assert (await store.balances(["a"])) == [Balance(spent=1, reserved=6)]
    assert await store.reserve([acct], 3, holder="r") is None  # exactly 10: allowed
    assert await store.reserve([acct], 0, holder="r") is not None  # used up: even free is refused


async def test_reserve_is_all_or_nothing_across_budgets(backend: Backend) -> None:
    store = await backend.budgets()
    roomy, tight, counted = hard("roomy", 100), hard("tight", 5), Account("counted", None)
    shortfall = await store.reserve([roomy, tight, counted], 6, holder="r")
    assert shortfall is not None and shortfall.index == 1
    assert await store.balances(["roomy", "tight", "counted"]) == [Balance()] * 3
    assert await store.reserve([roomy, counted], 6, holder="r") is None
    assert await store.balances(["roomy", "counted"]) == [Balance(0, 6)] * 2


async def test_counted_only_budgets_never_block(backend: Backend) -> None:
    store = await backend.budgets()
    soft_only = Account("s", None)
    for _ in range(5):
        assert await store.reserve([soft_only], 10**12, holder="r") is None


async def test_concurrent_reservations_never_pass_the_limit(backend: Backend) -> None:
    store = await backend.budgets()
    acct = hard("a", 10 * 5_000_000)

    async def one() -> bool:
        await asyncio.sleep(0)
        return await store.reserve([acct], 5_000_000, holder="r") is None

    results = await asyncio.gather(*(one() for _ in range(200)))
    assert sum(results) == 10


async def test_seed_only_starts_unknown_accounts(backend: Backend) -> None:
    store = await backend.budgets()
    assert await store.seed(hard("a", 100), 40)
    assert not await store.seed(hard("a", 100), 99)  # known: the store's own count wins
    assert await store.reserve([hard("a", 100)], 61, holder="r") is not None
    assert await store.reserve([hard("a", 100)], 60, holder="r") is None


async def test_once_fires_once_until_it_expires(backend: Backend) -> None:
    store = await backend.budgets()
    assert await store.once("alert:x", expires_at=2000.0)
    assert not await store.once("alert:x", expires_at=2000.0)
    await backend.advance_to(2000.0 + GRACE_SECONDS + 1)
    assert await store.once("alert:x", expires_at=9000.0)


async def test_accounts_of_ended_windows_are_forgotten(backend: Backend) -> None:
    store = await backend.budgets()
    await store.reserve([Account("old", 10, expires_at=1500.0)], 1, holder="r")
    await backend.advance_to(1500.0 + GRACE_SECONDS + 1)
    await store.seed(Account("new", 10, expires_at=99999.0), 0)
    assert await store.balances(["old"]) == [Balance()]


# --- only the shared store ------------------------------------------------------------


async def test_two_replicas_never_pass_the_limit_together(redis_backend: Backend) -> None:
    assert redis_backend.connection is not None
    other = redis_connection_like(redis_backend)
    try:
        stores = [await redis_backend.budgets(),
                  RedisBudgetStore(other, clock=redis_backend.clock)]
        acct = hard("a", 10 * 5_000_000)
        results = await asyncio.gather(*(stores[i % 2].reserve([acct], 5_000_000, holder=f"r{i}")
                                         for i in range(200)))
        assert sum(result is None for result in results) == 10
        assert await stores[1].balances(["a"]) == [Balance(0, 10 * 5_000_000)]
    finally:
        await other.aclose()


async def test_reservations_of_a_replica_that_died_lapse_with_their_lease(
    redis_backend: Backend,
) -> None:
    acct = hard("a", 10)
    dead = await redis_backend.budgets()
    assert await dead.reserve([acct], 6, holder="gone") is None
    alive = await redis_backend.budgets()
    assert await alive.reserve([acct], 6, holder="b") is not None
    await redis_backend.advance(LEASE_SECONDS + 0.001)
    assert await alive.reserve([acct], 6, holder="b") is None
    assert await alive.balances(["a"]) == [Balance(0, 6)]
    # The dead request settling late (its replica came back) releases nothing twice.
    assert await alive.settle([acct], reserved=6, actual=2, holder="gone") == [2]
    assert await alive.balances(["a"]) == [Balance(2, 6)]


async def test_a_live_replica_renews_its_reservations(redis_backend: Backend) -> None:
    acct = hard("a", 10)
    store = await redis_backend.budgets()
    assert isinstance(store, RedisBudgetStore)
    assert await store.reserve([acct], 6, holder="long") is None
    for _ in range(4):
        await redis_backend.advance(LEASE_SECONDS / 2)
        assert await store.leases.renew() == 1
    assert await store.balances(["a"]) == [Balance(0, 6)]
    assert await store.settle([acct], reserved=6, actual=6, holder="long") == [6]
    assert len(store.leases) == 0


async def test_lost_accounts_refuse_reservations_until_seeded_again(
    redis_backend: Backend,
) -> None:
    assert redis_backend.connection is not None
    store = await redis_backend.budgets()
    acct = hard("a", 10)
    assert await store.seed(acct, 4)
    assert await store.reserve([acct], 3, holder="r") is None
    generation = await store.generation()
    assert generation is not None
    client = redis_backend.connection.client
    async for key in client.scan_iter(match=f"{redis_backend.connection.prefix}*"):
        await client.delete(key)  # Redis restarted empty
    assert await store.generation() is None
    with pytest.raises(BackendUnavailable, match="seeded from the ledger"):
        await store.reserve([acct], 3, holder="s")
    assert await store.settle([acct], reserved=3, actual=1, holder="r") == [0]
    assert await store.seed(acct, 5)  # what the ledger says by now
    assert await store.mark_seeded() != generation
    assert await store.reserve([acct], 5, holder="s") is None
    assert await store.reserve([acct], 1, holder="t") is not None


def redis_connection_like(backend: Backend) -> RedisConnection:
    """A second replica's connection to the same Redis and keys."""
    assert backend.connection is not None
    return RedisConnection(backend.connection.url, max_connections=64,
                           key_prefix=backend.connection.prefix)
