"""Budget periods and their windows in UTC: a day from midnight, a week from Monday, a
month from the 1st, and `total` (everything ever spent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Period = Literal["day", "week", "month", "total"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "total")
_ALIASES: dict[str, Period] = {"daily": "day", "weekly": "week", "monthly": "month",
                               "lifetime": "total", "day": "day", "week": "week",
                               "month": "month", "total": "total"}
_ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly", "total": "total"}
_UTC = dt.UTC


@dataclass(slots=True, frozen=True)
class Window:
    """One period's span: from `start` (included) to `end` (excluded; None: no end)."""

    start: float
    end: float | None
    label: str  # the first day (`2025-06-02`), or `total`

    @property
    def start_day(self) -> str | None:
        """The UTC date the window starts on, None for `total`."""
        return None if self.end is None else self.label

    def resets_at(self) -> str | None:
        if self.end is None:
            return None
        return dt.datetime.fromtimestamp(self.end, _UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_period(text: str) -> Period:
    period = _ALIASES.get(text.strip().lower())
    if period is None:
        raise ValueError(f"period {text!r}: use day, week, month or total")
    return period


def adjective(period: Period) -> str:
    return _ADJECTIVES[period]


def window(period: Period, now: float) -> Window:
    """The window of `period` that contains the instant `now` (seconds since the epoch)."""
    if period == "total":
        return Window(0.0, None, "total")
    today = dt.datetime.fromtimestamp(now, _UTC).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    if period == "day":
        start, end = today, today + dt.timedelta(days=1)
    elif period == "week":
        start = today - dt.timedelta(days=today.weekday())  # ISO weeks start on Monday
        end = start + dt.timedelta(days=7)
    else:
        start = today.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    return Window(start.timestamp(), end.timestamp(), start.strftime("%Y-%m-%d"))
