"""Reading the spend ledger of a running gateway through its admin API."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx

from tests.support.servers import MASTER_KEY


def ledger_rows(url: str) -> dict[str, dict[str, Any]]:
    """Every ledger row, by request id."""
    rows: dict[str, dict[str, Any]] = {}
    after = ""
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {MASTER_KEY}"},
                      timeout=10) as http:
        while True:
            page = http.get("/admin/ledger", params={"limit": 1000, "after": after}).json()
            rows.update((r["request_id"], r) for r in page["data"])
            if len(page["data"]) < 1000:
                return rows
            after = page["next"]


def wait_for_rows(url: str, ids: Iterable[str], *, timeout: float = 10.0,
                  final: bool = True) -> dict[str, dict[str, Any]]:
    """Poll until every id has a row (with `final`, one that is not `in_progress`)."""
    wanted = set(ids)
    deadline = time.monotonic() + timeout
    while True:
        rows = ledger_rows(url)
        missing = {i for i in wanted
                   if i not in rows or (final and rows[i]["outcome"] == "in_progress")}
        if not missing:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"no ledger rows for {sorted(missing)} after {timeout}s")
        time.sleep(0.05)
