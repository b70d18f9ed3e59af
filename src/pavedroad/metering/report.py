"""Spend reports: the daily rollups grouped by one dimension and bucketed by period.

The store groups by UTC day and dimension (the same SQL on SQLite and PostgreSQL); days
become weeks or months here. Ids are shown as names (`tenant/team`, the key's name) when
the organisation knows them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pavedroad.core.errors import InvalidRequest
from pavedroad.metering.record import NANO
from pavedroad.service.org import OrgDirectory
from pavedroad.store.keys import KeyRecord
from pavedroad.store.ledger import DIMENSIONS, LedgerRepository
from pavedroad.store.schema import SPEND_COUNTERS

PERIODS = ("day", "week", "month")
BY_CHOICES = (*DIMENSIONS, "user", "tag:<name>")
NONE_LABEL = "(none)"
UNTAGGED = "(untagged)"


def period_of(day: str, period: str) -> str:
    """`2025-03-14` as its day, ISO week (`2025-W11`) or month (`2025-03`)."""
    if period == "day":
        return day
    if period == "month":
        return day[:7]
    year, week, _ = dt.date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def parse_day(text: str | None, param: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"`{param}` must be a date like 2025-03-14, got {text!r}",
                             param=param) from None


def date_range(period: str, first: dt.date | None, last: dt.date | None, *,
               today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Default: the current period up to `last` (today, UTC): this day, week or month."""
    last = last or today or dt.datetime.now(dt.UTC).date()
    if first is None:
        if period == "month":
            first = last.replace(day=1)
        elif period == "week":
            first = last - dt.timedelta(days=last.weekday())
        else:
            first = last
    if first > last:
        raise InvalidRequest("`from` is after `to`", param="from")
    return first, last


def check_query(by: str, period: str) -> None:
    if period not in PERIODS:
        raise InvalidRequest(f"`period` must be one of {', '.join(PERIODS)}", param="period")
    if by in DIMENSIONS or by == "user" or (by.startswith("tag:") and len(by) > 4):
        return
    raise InvalidRequest(f"`by` must be one of {', '.join(BY_CHOICES)}", param="by")


def org_names(directory: OrgDirectory, keys: Iterable[KeyRecord]) -> dict[str, str]:
    """Readable names for every tenant, team, app and key id (ids are globally unique)."""
    names = {t.id: t.name for t in directory.tenants.values()}
    for team in directory.teams.values():
        tenant = directory.tenants.get(team.tenant_id)
        names[team.id] = f"{tenant.name}/{team.name}" if tenant else team.name
    names.update({a.id: directory.path(a.id) for a in directory.apps.values()})
    names.update({k.id: k.name for k in keys})
    return names


@dataclass(slots=True)
class SpendReport:
    by: str
    period: str
    first: dt.date
    last: dt.date
    lines: list[dict[str, Any]] = field(default_factory=list)

    def total(self) -> dict[str, Any]:
        total: dict[str, Any] = {name: 0 for name in SPEND_COUNTERS if name != "cost_nanousd"}
        cost = 0.0
        for line in self.lines:
            for name in total:
                total[name] += line[name]
            cost += line["cost_usd"]
        return {**total, "cost_usd": round(cost, 9)}

    def as_dict(self) -> dict[str, Any]:
        return {"by": self.by, "period": self.period, "from": self.first.isoformat(),
                "to": self.last.isoformat(), "data": self.lines, "total": self.total()}


def _bucket(rows: Iterable[Mapping[str, Any]], period: str) -> dict[tuple[str, Any], list[int]]:
    sums: dict[tuple[str, Any], list[int]] = {}
    for row in rows:
        key = (period_of(row["day"], period), row.get("group"))
        acc = sums.setdefault(key, [0] * len(SPEND_COUNTERS))
        for i, name in enumerate(SPEND_COUNTERS):
            acc[i] += int(row[name] or 0)
    return sums


async def spend_report(
    repository: LedgerRepository, *, by: str, period: str, first: dt.date | None = None,
    last: dt.date | None = None, names: Mapping[str, str] | None = None,
    today: dt.date | None = None, tenant: str | None = None,
) -> SpendReport:
    """`tenant`: only that tenant's spend (a tenant admin's report; not for tag reports,
    whose rollups are not kept per tenant)."""
    check_query(by, period)
    if tenant is not None and by.startswith("tag:"):
        raise InvalidRequest("spend by tag is not available for one tenant", param="by")
    start, end = date_range(period, first, last, today=today)
    a, b = start.isoformat(), end.isoformat()
    if by == "user":
        sums = _bucket(await repository.daily_users(a, b, tenant=tenant), period)
    elif by.startswith("tag:"):
        sums = _bucket(await repository.daily_tag(by[4:], a, b), period)
        # What requests without this tag spent, so the report adds up to the total.
        tagged: dict[str, list[int]] = {}
        for (when, _), values in sums.items():
            acc = tagged.setdefault(when, [0] * len(values))
            for i, value in enumerate(values):
                acc[i] += value
        for (when, _), totals in _bucket(await repository.daily_totals(a, b), period).items():
            rest = [t - g for t, g in zip(totals, tagged.get(when, [0] * len(totals)),
                                          strict=True)]
            if rest[0] > 0:
                sums[(when, None)] = rest
    else:
        sums = _bucket(await repository.daily(by, a, b, tenant=tenant), period)
    names = names or {}
    lines: list[dict[str, Any]] = []
    for (when, group), values in sums.items():
        counters = dict(zip(SPEND_COUNTERS, values, strict=True))
        cost = counters.pop("cost_nanousd") / NANO
        label = (UNTAGGED if by.startswith("tag:") else NONE_LABEL) if not group else \
            names.get(group, group)
        lines.append({"period": when, "group": label, "group_id": group or None, **counters,
                      "cost_usd": round(cost, 9)})
    lines.sort(key=lambda line: (line["period"], -line["cost_usd"], str(line["group"])))
    return SpendReport(by, period, start, end, lines)


def public_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger row as the admin API shows it: cost in USD, not nano-USD."""
    out = {k: v for k, v in row.items() if k not in ("cost_nanousd", "writer")}
    cost = row.get("cost_nanousd")
    out["cost_usd"] = None if cost is None else cost / NANO
    return out
