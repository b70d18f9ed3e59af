"""The spend ledger's moving parts, started and stopped with the gateway.

The journal writer lives on the serving event loop (one `os.write` per record). The flusher
runs on a thread of its own, with its own event loop and database engine: turning a batch
of records into rows costs ~20 µs of CPU each, and done on the serving loop it stalled
requests for milliseconds per batch. On its own thread it only shares the interpreter.

The writer is created at start (it takes a lock and opens a file), not when the gateway is
built, so building one for `config check` or a test touches no disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.config.models import LedgerConfig, Settings
from pavedroad.metering.flusher import LEDGER_FIELDS, FlushMetrics, JournalSink, LedgerFlusher
from pavedroad.metering.journal import JournalWriter
from pavedroad.metering.metrics import MeteringMetrics
from pavedroad.metering.prices import PriceCatalog
from pavedroad.metering.record import LedgerObserver
from pavedroad.store.database import create_engine
from pavedroad.store.ledger import LedgerRepository

log = logging.getLogger("pavedroad.metering")


def journal_dir_for(settings: Settings) -> Path:
    """`metering.ledger.journal_dir`, else `journal/` beside the SQLite file, else
    `.pavedroad/journal/<database>-<hash of the store URL>`: a journal is replayed into the
    store it was written for, never into another one that shares the working directory."""
    configured = settings.metering.ledger.journal_dir
    if configured is not None:
        return configured
    url = make_url(settings.store.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).parent / "journal"
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", url.database or url.get_backend_name())
    return Path(".pavedroad") / "journal" / f"{name}-{digest[:12]}"


class FlusherThread:
    """Runs a `LedgerFlusher` on a daemon thread with its own loop and engine. The audit
    trail runs one too, with its own repository (`sink`) and record fields."""

    def __init__(self, writer: JournalWriter, store_url: str, config: LedgerConfig,
                 metrics: FlushMetrics, *,
                 sink: Callable[[AsyncEngine], JournalSink] = LedgerRepository,
                 required: Sequence[str] = LEDGER_FIELDS, name: str = "ledger-flusher") -> None:
        self._sink = sink
        self._required = required
        self._writer = writer
        self._store_url = store_url
        self._config = config
        self._metrics = metrics
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=30)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception:
            log.exception("the ledger flusher stopped; the journal keeps the records for the "
                          "next start")
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        engine = create_engine(self._store_url)
        flusher = LedgerFlusher(self._writer, self._sink(engine), self._metrics,
                                interval=self._config.flush_seconds,
                                batch_records=self._config.batch_records,
                                required=self._required)
        try:
            await flusher.start()
            self._started.set()
            await self._stopping.wait()
            await flusher.stop()
        finally:
            await engine.dispose()

    def stop(self, *, wait: float = 30.0) -> None:
        """Flush what is left and stop; blocking (call it from a worker thread)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        self._thread.join(wait)


class Ledger:
    def __init__(self, config: LedgerConfig, directory: Path, store_url: str,
                 catalog: PriceCatalog, metrics: MeteringMetrics) -> None:
        self._config = config
        self.directory = directory
        self._store_url = store_url
        self._metrics = metrics
        self._writer: JournalWriter | None = None
        self._flusher: FlusherThread | None = None
        self.observer = LedgerObserver(self._append, catalog, metrics)

    def _append(self, line: bytes) -> None:
        if self._writer is None:
            raise OSError("the ledger journal is not open (the gateway has not started)")
        self._writer.append(line)

    async def start(self) -> None:
        config = self._config
        self._writer = JournalWriter(self.directory, rotate_bytes=config.rotate_bytes,
                                     fsync=config.fsync)
        self._flusher = FlusherThread(self._writer, self._store_url, config, self._metrics)
        await asyncio.to_thread(self._flusher.start)

    async def stop(self) -> None:
        if self._flusher is None or self._writer is None:
            return
        self.observer.interrupt_open()
        # Closed here, on the loop that appends, so no append can race the close.
        self._writer.close()
        await asyncio.to_thread(self._flusher.stop)
        self._flusher = None
        self._writer = None
