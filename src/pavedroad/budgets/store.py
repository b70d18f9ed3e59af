"""Spend counters behind budgets: the `BudgetStore` protocol and its in-process implementation.

An account is one budget's spend in one period window, in nano-USD, split into what is
settled and what is reserved by requests in flight. `reserve` checks and reserves across
several accounts as one step, so concurrent requests can never together pass a hard limit:
the check and the record are the same operation.

`budgets.redis_store.RedisBudgetStore` implements the same protocol in Redis, shared by every
replica: an account is a hash that expires after its window; `reserve` and `settle` are one
Lua script each over all the accounts' keys (docs/adr/0013-redis-scale-out.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# An account outlives its window by this long, so requests that started before the window
# ended still settle into it.
GRACE_SECONDS = 3600.0
MEMORY_GENERATION = "memory"


@dataclass(slots=True, frozen=True)
class Account:
    key: str
    limit: int | None  # nano-USD a hard budget allows; None: counted, never blocks
    expires_at: float | None = None  # epoch seconds after which it may be forgotten


@dataclass(slots=True, frozen=True)
class Balance:
    spent: int = 0  # settled
    reserved: int = 0  # held by requests in flight

    @property
    def committed(self) -> int:
        return self.spent + self.reserved


@dataclass(slots=True, frozen=True)
class Shortfall:
    """Why a reservation was refused: the first account that could not take it."""

    index: int
    balance: Balance


class BudgetStore(Protocol):
    async def reserve(
        self, accounts: Sequence[Account], amount: int, *, holder: str
    ) -> Shortfall | None:
        """All or nothing: add `amount` to every account's reservations, unless an account
        with a limit would go past it (`spent + reserved + amount > limit`) or is already
        used up (`spent + reserved >= limit`); then change nothing and say which."""
        ...

    async def settle(
        self, accounts: Sequence[Account], *, reserved: int, actual: int, holder: str
    ) -> list[int]:
        """Release `reserved` and add `actual` to what each account spent; the accounts'
        settled spend afterwards, in order."""
        ...

    async def balances(self, keys: Sequence[str]) -> list[Balance]:
        """Spend so far per account (zero for an account never used)."""
        ...

    async def seed(self, account: Account, spent: int) -> bool:
        """Start an account at `spent` (the ledger's sum for its window) unless the store
        already has it; whether it did."""
        ...

    async def once(self, marker: str, *, expires_at: float | None) -> bool:
        """True the first time `marker` is claimed (until it expires): alerts fire once."""
        ...

    async def generation(self) -> str | None:
        """Which contents the store holds: the id `mark_seeded` answered, or None when they
        were lost (a shared store restarted empty) and every account must be seeded again.
        Until then a shared store refuses reservations (`BackendUnavailable`)."""
        ...

    async def mark_seeded(self) -> str:
        """Every current account is seeded: the contents can be trusted again. The id of
        these contents, the same for every gateway that shares the store."""
        ...


class _Entry:
    __slots__ = ("expires_at", "reserved", "spent")

    def __init__(self, spent: int, expires_at: float | None) -> None:
        self.spent = spent
        self.reserved = 0
        self.expires_at = expires_at


class LocalBudgetStore:
    """Accounts in this process's memory. Atomic because nothing in `reserve` awaits."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._accounts: dict[str, _Entry] = {}
        self._markers: dict[str, float | None] = {}

    def _entry(self, account: Account) -> _Entry:
        entry = self._accounts.get(account.key)
        if entry is None:
            entry = self._accounts[account.key] = _Entry(0, account.expires_at)
        return entry

    async def reserve(
        self, accounts: Sequence[Account], amount: int, *, holder: str
    ) -> Shortfall | None:
        entries = [self._entry(account) for account in accounts]
        for i, (account, entry) in enumerate(zip(accounts, entries, strict=True)):
            if account.limit is None:
                continue
            committed = entry.spent + entry.reserved
            if committed + amount > account.limit or committed >= account.limit:
                return Shortfall(i, Balance(entry.spent, entry.reserved))
        for entry in entries:
            entry.reserved += amount
        return None

    async def settle(
        self, accounts: Sequence[Account], *, reserved: int, actual: int, holder: str
    ) -> list[int]:
        out = []
        for account in accounts:
            entry = self._entry(account)
            entry.reserved = max(0, entry.reserved - reserved)
            entry.spent += actual
            out.append(entry.spent)
        return out

    async def balances(self, keys: Sequence[str]) -> list[Balance]:
        out = []
        for key in keys:
            entry = self._accounts.get(key)
            out.append(Balance() if entry is None else Balance(entry.spent, entry.reserved))
        return out

    async def seed(self, account: Account, spent: int) -> bool:
        self._forget_expired()
        if account.key in self._accounts:
            return False
        self._accounts[account.key] = _Entry(spent, account.expires_at)
        return True

    async def once(self, marker: str, *, expires_at: float | None) -> bool:
        self._forget_expired()
        if marker in self._markers:
            return False
        self._markers[marker] = expires_at
        return True

    async def generation(self) -> str | None:
        return MEMORY_GENERATION  # this process's memory is lost only with the process

    async def mark_seeded(self) -> str:
        return MEMORY_GENERATION

    def _forget_expired(self) -> None:
        """Windows that ended over an hour ago: nothing settles into them any more."""
        cutoff = self._clock() - GRACE_SECONDS
        for key in [k for k, e in self._accounts.items()
                    if e.expires_at is not None and e.expires_at < cutoff]:
            del self._accounts[key]
        for marker in [m for m, at in self._markers.items() if at is not None and at < cutoff]:
            del self._markers[marker]
