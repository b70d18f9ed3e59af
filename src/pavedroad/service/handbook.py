"""The bundled sample collection: the project's own documentation, as `handbook`.

`pavedroad up` ingests it before serving so the grounded model has something true to say
on a fresh machine. The documents come from the source checkout when there is one, else
from the copy a wheel installs under `<prefix>/share/pavedroad/handbook`. Ingestion is
incremental: a second start skips unchanged documents.
"""

from __future__ import annotations

import asyncio
import sysconfig
import tomllib
from collections.abc import Callable
from pathlib import Path

from pavedroad.config.models import Settings
from pavedroad.core.errors import CollectionNotFound, InvalidRequest
from pavedroad.rag.ingest import IngestReport, Progress, SourceDocument
from pavedroad.rag.service import RetrievalService, build_retrieval
from pavedroad.service.org import OrgDirectory
from pavedroad.service.retrieval_assembly import LOCAL_CHOICES, choose_embedder, extra_embedders
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.org import DEFAULT_TENANT, OrgRepository

HANDBOOK = "handbook"
DESCRIPTION = "pavedroad's own documentation: README, guides and architecture decisions"
PATTERNS = ("README.md", "docs/*.md", "docs/adr/*.md")


def _has_docs(root: Path) -> bool:
    return (root / "README.md").is_file() and (root / "docs").is_dir()


def is_pavedroad_checkout(root: Path) -> bool:
    """pavedroad's own source tree (not another project a virtualenv happens to sit in)."""
    project = root / "pyproject.toml"
    if not project.is_file() or not _has_docs(root):
        return False
    try:
        name = tomllib.loads(project.read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return False
    return bool(name == "pavedroad")


def handbook_root() -> Path | None:
    """Where the documents are: a source checkout above this file, else the installed copy."""
    for parent in Path(__file__).resolve().parents:
        if is_pavedroad_checkout(parent):
            return parent
    installed = Path(sysconfig.get_path("data")) / "share" / "pavedroad" / "handbook"
    return installed if _has_docs(installed) else None


def handbook_documents(root: Path) -> list[SourceDocument]:
    """README.md, docs/*.md and docs/adr/*.md, named by their path under `root`."""
    files = sorted({f for pattern in PATTERNS for f in root.glob(pattern) if f.is_file()})
    return [SourceDocument(f.relative_to(root).as_posix(), f.read_bytes()) for f in files]


async def ingest_handbook(service: RetrievalService, root: Path, *,
                          progress: Progress | None = None) -> IngestReport | None:
    """Create `handbook` if needed and mirror the documents into it (removed files go).
    None: a `handbook` collection pavedroad did not make exists (someone's own, in any
    tenant); mirroring would delete its documents, so it is left alone."""
    try:
        record = await service.collection(HANDBOOK)
    except CollectionNotFound:
        record = await service.create_collection(HANDBOOK, description=DESCRIPTION)
    except InvalidRequest:  # several tenants have one: none is certainly ours
        return None
    if record.description != DESCRIPTION or record.tenant_id != DEFAULT_TENANT:
        return None
    return await service.ingest(record.id, handbook_documents(root), prune="", strict=False,
                                progress=progress)


def seed_handbook(settings: Settings, *, root: Path | None = None,
                  progress: Callable[[str], None] = print) -> IngestReport | None:
    """Ingest the handbook into the configured store, with the embedder the gateway will
    use; None when there is nothing to ingest (no documents, or an embedder that needs a
    running gateway)."""
    root = root or handbook_root()
    if root is None:
        progress("handbook: no bundled documentation found; skipping the sample collection")
        return None
    if settings.retrieval.embedder not in LOCAL_CHOICES:
        progress("handbook: retrieval embeds through a gateway model; ingest it with "
                 "`pavedroad ingest` once the gateway runs")
        return None
    embedder = choose_embedder(settings, None)
    migrate(settings.store.url)

    async def run() -> IngestReport | None:
        engine = create_engine(settings.store.url)
        try:
            directory = OrgDirectory(OrgRepository(engine))
            service = build_retrieval(settings, engine, directory, embedder=embedder,
                                      embedders=extra_embedders(embedder))
            return await ingest_handbook(service, root, progress=counter)
        finally:
            await engine.dispose()

    total = len(handbook_documents(root))
    done = 0

    def counter(count: int) -> None:
        nonlocal done
        done += count
        progress(f"handbook: {done}/{total} documents")

    # The first start embeds every chunk (seconds with bge-small, about a minute with
    # MiniLM); later starts skip unchanged documents.
    progress(f"handbook: ingesting the documentation in {root} ...")
    report = asyncio.run(run())
    if report is None:
        progress(f"handbook: a collection named {HANDBOOK!r} that pavedroad did not create "
                 "exists; leaving it untouched (the sample collection is skipped)")
        return None
    progress(f"handbook: {report.added} added, {report.updated} updated, {report.unchanged} "
             f"unchanged, {report.deleted} removed ({report.seconds:.1f} s)")
    return report
