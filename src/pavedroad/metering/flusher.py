"""Moves journal records into the store in batches, off the request path, exactly once.

Each pass reads the complete lines after the stored offset of each journal file and hands
them to `LedgerRepository.apply`, which upserts them and stores the new offset in the same
transaction. A crash between passes replays from the stored offset; a pass that fails
(the store is down) leaves the journal as it is and is retried with backoff. Files of dead
processes (see journal.py) are adopted, replayed and closed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
from prometheus_client import Counter, Gauge

from pavedroad.metering.journal import (
    JournalFile,
    JournalWriter,
    WriterLock,
    journal_files,
    read_lines,
    writers_in,
)

log = logging.getLogger("pavedroad.metering")

MAX_BACKOFF = 5.0  # a flush attempt is cheap; recover soon after the store does


LEDGER_FIELDS = ("request_id", "started_at")


class JournalSink(Protocol):
    """Where a flusher applies journal records: the spend ledger, the audit trail. `apply`
    stores the records and the file's new offset in one transaction."""

    async def offsets(self, writer: str) -> dict[str, int]: ...

    async def apply(self, records: Sequence[Mapping[str, Any]], *, writer: str, file: str,
                    offset: int) -> int: ...

    async def close_writer(self, writer: str) -> int: ...

    async def forget_file(self, writer: str, file: str) -> None: ...


class FlushMetrics(Protocol):
    flushed: Counter
    flush_failures: Counter
    journal_errors: Counter
    journal_pending: Gauge


def parse_records(lines: list[bytes], on_bad: Callable[[], None],
                  required: Sequence[str] = LEDGER_FIELDS) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        if isinstance(record, dict) and all(record.get(name) for name in required):
            records.append(record)
        else:
            on_bad()
            log.error("skipping a journal line that is not a whole record: %.200r", line)
    return records


class LedgerFlusher:
    def __init__(
        self, writer: JournalWriter, repository: JournalSink, metrics: FlushMetrics,
        *, interval: float, batch_records: int, orphan_scan_seconds: float = 10.0,
        required: Sequence[str] = LEDGER_FIELDS,
    ) -> None:
        self._required = tuple(required)
        self._writer = writer
        self._repository = repository
        self._metrics = metrics
        self._interval = interval
        self._batch = batch_records
        self._orphan_every = orphan_scan_seconds
        self._positions: dict[str, int] = {}  # own files: offset already applied
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._last_scan = float("-inf")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-flusher")

    async def _run(self) -> None:
        delay = 0.0  # the first pass (crash replay) runs at once
        while True:
            await asyncio.sleep(delay)
            try:
                await self.flush()
            except Exception:
                self._metrics.flush_failures.inc()
                self._metrics.journal_pending.set(self.pending_bytes())
                if not self._failing:
                    log.warning("ledger flush failed; the journal keeps every record and the "
                                "flush is retried", exc_info=True)
                self._failing = True
                delay = min(MAX_BACKOFF, max(self._interval, delay * 2))
                continue
            if self._failing:
                log.warning("ledger flush works again")
                self._failing = False
            delay = self._interval

    async def flush(self) -> int:
        """One pass: adopt dead writers' journals (now and then), then flush our own."""
        loop = asyncio.get_running_loop()
        applied = 0
        if loop.time() - self._last_scan >= self._orphan_every:
            applied += await self.adopt_orphans()
            self._last_scan = loop.time()
        applied += await self._flush_writer(self._writer.writer, self._positions, own=True)
        self._metrics.journal_pending.set(self.pending_bytes())
        return applied

    async def adopt_orphans(self) -> int:
        """Replay and close the journal of every writer whose process is gone."""
        applied = 0
        directory = self._writer.directory
        for writer in sorted(writers_in(directory) - {self._writer.writer}):
            lock = WriterLock(directory, writer)
            if not await asyncio.to_thread(lock.acquire):
                continue  # its process is alive
            closed = False
            try:
                positions = await self._repository.offsets(writer)
                replayed = await self._flush_writer(writer, positions, own=False)
                interrupted = await self._repository.close_writer(writer)
                closed = True
                applied += replayed
                log.warning("replayed the ledger journal of a stopped gateway (%s): %d records, "
                            "%d streams interrupted", writer, replayed, interrupted)
            finally:
                lock.release(remove=closed)
        return applied

    async def _flush_writer(self, writer: str, positions: dict[str, int], *, own: bool) -> int:
        applied = 0
        for file in await asyncio.to_thread(journal_files, self._writer.directory, writer):
            active = own and file.seq >= self._writer.active_seq and not self._writer.closed
            applied += await self._flush_file(writer, file, positions, active=active)
        return applied

    async def _flush_file(self, writer: str, file: JournalFile, positions: dict[str, int],
                          *, active: bool) -> int:
        applied = 0
        position = positions.get(file.name, 0)
        while True:
            chunk = await asyncio.to_thread(read_lines, file.path, position,
                                            max_lines=self._batch)
            if not chunk.lines:
                break
            records = parse_records(chunk.lines, self._metrics.journal_errors.inc,
                                    self._required)
            await self._repository.apply(records, writer=writer, file=file.name,
                                         offset=chunk.end)
            position = positions[file.name] = chunk.end
            applied += len(records)
            self._metrics.flushed.inc(len(records))
        if not active:  # no one appends to it again: it is done
            if chunk.torn_tail:
                self._metrics.journal_errors.inc()
                log.error("journal %s ends in a torn record (a write cut short); skipped",
                          file.name)
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(file.path.unlink)
            positions.pop(file.name, None)
            await self._repository.forget_file(writer, file.name)
        return applied

    def pending_bytes(self) -> int:
        pending = 0
        for file in journal_files(self._writer.directory, self._writer.writer):
            with contextlib.suppress(FileNotFoundError):
                pending += os.stat(file.path).st_size - self._positions.get(file.name, 0)
        return pending

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop the loop, then flush what is left. If everything reached the store, the
        journal is removed; otherwise it stays for the next start to replay."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer.close()
        done = False
        try:
            async with asyncio.timeout(grace):
                await self._flush_writer(self._writer.writer, self._positions, own=True)
                await self._repository.close_writer(self._writer.writer)
                done = True
        except Exception:
            log.warning("the store took no ledger records at shutdown; %d journal bytes kept "
                        "in %s for the next start", self.pending_bytes(),
                        self._writer.directory, exc_info=True)
        finally:
            self._writer.lock.release(remove=done)
