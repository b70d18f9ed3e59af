"""One ledger record per request, built from its exchange, and the observer that journals it.

A record is a flat JSON object (one line of the journal, one row of `ledger`). A stream
gets a *provisional* record when it starts answering (`outcome: in_progress`, its prompt
estimated and priced) and a *final* one when it ends; the final one supersedes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from pavedroad.core.types import Usage
from pavedroad.metering.cost import cost_of
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.prices import PriceCatalog
from pavedroad.metering.tokens import estimate_prompt_tokens
from pavedroad.service.pipeline import Exchange

log = logging.getLogger("pavedroad.metering")

IN_PROGRESS = "in_progress"
INTERRUPTED = "interrupted"
NANO = 1_000_000_000


def nanos(cost: float | None) -> int | None:
    """USD -> integer nano-USD: sums of many small costs stay exact in the store."""
    return None if cost is None else round(cost * NANO)


def record_of(exchange: Exchange, *, final: bool, catalog: PriceCatalog | None = None,
              now: float | None = None) -> dict[str, Any]:
    request = exchange.request
    caller = request.caller
    elapsed = (time.perf_counter() if now is None else now) - exchange.started
    dep = exchange.deployment
    if final:
        usage = exchange.usage or Usage()
        cost, source, outcome = exchange.cost, exchange.usage_source, exchange.outcome
    else:
        usage = Usage(prompt_tokens=estimate_prompt_tokens(request.body))
        price = catalog.price(dep.name) if catalog is not None and dep is not None else None
        cost = 0.0 if exchange.cache_hit else cost_of(usage, price) if price is not None else None
        source, outcome = "estimated", IN_PROGRESS
    ttft = exchange.first_token_at
    return {
        "kind": "final" if final else "provisional",
        "request_id": request.request_id,
        "started_at": exchange.started_at,
        "ended_at": exchange.started_at + elapsed if final else None,
        "tenant_id": caller.tenant.id if caller.tenant else None,
        "team_id": caller.team_subject.id if caller.team_subject else None,
        "app_id": caller.app.id if caller.app else None,
        "key_id": caller.key_id,
        "end_user": exchange.end_user,
        "model": request.model,
        "deployment": dep.name if dep is not None else None,
        "route": exchange.trace.header(),
        "endpoint": exchange.endpoint,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost_nanousd": nanos(cost),
        "usage_source": source,
        "latency_ms": round(elapsed * 1000, 3) if final else None,
        "ttft_ms": round((ttft - exchange.started) * 1000, 3) if ttft is not None else None,
        "outcome": outcome,
        "cache_hit": exchange.cache_hit,
        "stream": request.stream,
        "tags": exchange.tags,
        "prompt_id": exchange.prompt_id,
        "prompt_version": exchange.prompt_version,
    }


class LedgerObserver:
    """Journals each exchange before its first byte is sent (docs/adr/0007).

    Streams: a provisional record in `answering`, the final one in `ended`. Complete
    responses and failures: the final record in `ended`, which the service calls before
    the response is sent. `append` is one `os.write` on an O_APPEND file (JournalWriter).
    """

    def __init__(self, append: Callable[[bytes], None], catalog: PriceCatalog,
                 metrics: MeteringMetrics) -> None:
        self._append = append
        self._catalog = catalog
        self._metrics = metrics
        self.open: dict[str, Exchange] = {}  # streams answering, by request id

    def answering(self, exchange: Exchange) -> None:
        if not exchange.request.stream or exchange.ended:
            return  # a complete response is journaled once, final, in `ended`
        self.open[exchange.request.request_id] = exchange
        self._write(record_of(exchange, final=False, catalog=self._catalog))

    def ended(self, exchange: Exchange) -> None:
        self.open.pop(exchange.request.request_id, None)
        self._write(record_of(exchange, final=True))

    def interrupt_open(self) -> int:
        """On shutdown: streams that never ended get their final record, `interrupted`."""
        count = 0
        for exchange in list(self.open.values()):
            record = record_of(exchange, final=False, catalog=self._catalog)
            record.update(kind="final", outcome=INTERRUPTED)
            self._write(record)
            count += 1
        self.open.clear()
        return count

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._append(orjson.dumps(record) + b"\n")
        except OSError:
            # The disk is full or gone: the request is served, its record is lost, and
            # the metric says so. Refusing traffic here would be worse than the gap.
            self._metrics.journal_errors.inc()
            log.exception("could not journal the ledger record of %s", record["request_id"])
