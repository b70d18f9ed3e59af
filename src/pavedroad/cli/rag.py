"""`pavedroad ingest` and `pavedroad collections …`: retrieval collections in the store the
config names. A running gateway sees changes within a second (it re-reads a collection's
version before searching it)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from pavedroad.cli.common import config_option, fail, run, settings_from
from pavedroad.cli.store import audit_for, parse_pairs
from pavedroad.config.models import Settings
from pavedroad.core.errors import CollectionNotFound
from pavedroad.rag.chunking import DEFAULT_OVERLAP, DEFAULT_TOKENS
from pavedroad.rag.ingest import IngestReport, read_path
from pavedroad.rag.repository import CollectionRecord
from pavedroad.rag.service import MODES, RetrievalService, build_retrieval
from pavedroad.rag.types import Hit
from pavedroad.service.org import OrgDirectory
from pavedroad.service.retrieval_assembly import (
    LOCAL_CHOICES,
    choose_embedder,
    choose_reranker,
    extra_embedders,
)
from pavedroad.store.database import create_engine, migrate
from pavedroad.store.org import OrgRepository

T = TypeVar("T")


@asynccontextmanager
async def open_retrieval(settings: Settings) -> AsyncIterator[RetrievalService]:
    """The service on the configured store, embedding as the gateway would (`retrieval.
    embedder`), so collections made here are searchable there."""
    if settings.retrieval.embedder not in LOCAL_CHOICES:
        fail(f"retrieval.embedder is {settings.retrieval.embedder!r}, a model only a running "
             "gateway serves: ingest through its admin API (POST /admin/collections/{id}/"
             "documents, see docs/api.md)", code=2)
    embedder = choose_embedder(settings, None)
    await asyncio.to_thread(migrate, settings.store.url)
    engine = create_engine(settings.store.url)
    try:
        yield build_retrieval(settings, engine, OrgDirectory(OrgRepository(engine)),
                              embedder=embedder, embedders=extra_embedders(embedder),
                              reranker=choose_reranker(settings),
                              audit=audit_for(settings, engine))
    finally:
        await engine.dispose()


def _with_service(settings: Settings, use: Callable[[RetrievalService], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_retrieval(settings) as service:
            return await use(service)

    return run(go())


def _summary(name: str, report: IngestReport) -> str:
    return (f"{name}: {report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged, {report.deleted} deleted; {report.chunks} chunks written "
            f"({report.embedded} embedded, {report.reused} from the cache) in "
            f"{report.seconds:.1f}s")


@click.command("ingest")
@config_option
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--collection", required=True, help="Collection name or id; created when missing.")
@click.option("--tenant", default=None,
              help="Tenant of a collection created here (name or id). Default: the default "
                   "tenant.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest(config_path: Path | None, path: Path, collection: str, tenant: str | None,
           as_json: bool) -> None:
    """Ingest PATH (a file or a folder of .txt, .md, .html, .pdf) into a collection.

    Incremental: unchanged files are skipped, changed ones replaced, and files removed from
    the folder are deleted from the collection."""
    settings = settings_from(config_path)
    documents, prefix, skipped = read_path(path)

    async def go(service: RetrievalService) -> tuple[str, IngestReport]:
        try:
            record = await service.collection(collection)
        except CollectionNotFound:
            record = await service.create_collection(collection, tenant=tenant)
        with click.progressbar(length=len(documents), label=f"ingesting {path}",
                               file=sys.stderr if as_json else sys.stdout,
                               show_pos=True) as bar:
            report = await service.ingest(record.id, documents, prune=prefix,
                                          strict=prefix is None,
                                          progress=bar.update)
        report.failed.update(skipped)
        return record.name, report

    name, report = _with_service(settings, go)
    if as_json:
        click.echo(json.dumps(report.public()))
        return
    click.echo(_summary(name, report))
    for source, why in report.failed.items():
        click.echo(f"  skipped {source}: {why}")


@click.group()
def collections() -> None:
    """Create, list, delete and search retrieval collections."""


def _row(record: CollectionRecord) -> str:
    return (f"{record.id:<32} {record.name:<20} {record.tenant_id:<24} {record.embedder:<14} "
            f"{len(record.apps):>4}")


@collections.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def collections_list(config_path: Path | None, as_json: bool) -> None:
    """List every collection."""
    records = _with_service(settings_from(config_path), lambda s: s.list_collections())
    if as_json:
        click.echo(json.dumps([r.public() for r in records]))
        return
    click.echo(f"{'ID':<32} {'NAME':<20} {'TENANT':<24} {'EMBEDDER':<14} APPS")
    for record in records:
        click.echo(_row(record))


@collections.command("create")
@config_option
@click.argument("name")
@click.option("--tenant", default=None, help="Owning tenant (name or id). Default: default.")
@click.option("--app", "apps", multiple=True,
              help="An app whose keys may search it, as tenant/team/app or id (repeatable).")
@click.option("--description", default="", help="What the collection holds.")
@click.option("--chunk-tokens", type=click.IntRange(8, 8192), default=DEFAULT_TOKENS,
              show_default=True, help="Token budget of a chunk.")
@click.option("--chunk-overlap", type=click.IntRange(0, 4096), default=DEFAULT_OVERLAP,
              show_default=True, help="Tokens a chunk repeats from the one before it.")
def collections_create(config_path: Path | None, name: str, tenant: str | None,
                       apps: tuple[str, ...], description: str, chunk_tokens: int,
                       chunk_overlap: int) -> None:
    """Create collection NAME."""
    record = _with_service(settings_from(config_path), lambda s: s.create_collection(
        name, tenant=tenant, apps=apps, description=description, chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap))
    click.echo(f"created {record.id} ({record.name})")


@collections.command("share")
@config_option
@click.argument("collection")
@click.option("--app", "apps", multiple=True,
              help="An app whose keys may search it (repeatable); none: share with no app.")
def collections_share(config_path: Path | None, collection: str, apps: tuple[str, ...]) -> None:
    """Set the apps whose keys may search COLLECTION (replaces the list)."""
    record = _with_service(settings_from(config_path), lambda s: s.share(collection, apps))
    click.echo(f"{record.name}: shared with {len(record.apps)} app(s)")


@collections.command("delete")
@config_option
@click.argument("collection")
def collections_delete(config_path: Path | None, collection: str) -> None:
    """Delete COLLECTION (name or id) with its documents and chunks."""
    record = _with_service(settings_from(config_path), lambda s: s.delete_collection(collection))
    click.echo(f"deleted {record.id} ({record.name})")


@collections.command("search")
@config_option
@click.argument("collection")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True,
              help="How many chunks to return.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True,
              help="hybrid fuses bm25 and vector rankings.")
@click.option("--filter", "filters", multiple=True,
              help="field=value (source, title, section or a metadata field; repeatable).")
@click.option("--rerank/--no-rerank", default=None,
              help="Reorder the first hits with the cross-encoder (default: retrieval.rerank).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def collections_search(config_path: Path | None, collection: str, query: str, k: int,
                       mode: str, filters: tuple[str, ...], rerank: bool | None,
                       as_json: bool) -> None:
    """Search COLLECTION for QUERY and print the ranked chunks with their citations."""
    wanted: dict[str, Any] = dict(parse_pairs(filters, "--filter"))
    hits: list[Hit] = _with_service(settings_from(config_path), lambda s: s.search(
        collection, query, k=k, mode=mode, filters=wanted or None,  # type: ignore[arg-type]
        rerank=rerank))
    if as_json:
        click.echo(json.dumps([{"chunk_id": h.chunk_id, "score": h.score, "text": h.text,
                                "citation": asdict(h.citation)} for h in hits]))
        return
    if not hits:
        fail("no matching chunk", code=1)
    for rank, hit in enumerate(hits, start=1):
        where = hit.citation.source + (f" > {hit.citation.section}" if hit.citation.section
                                       else "")
        click.echo(f"{rank}. [{hit.score:.4f}] {where} "
                   f"(chars {hit.citation.start}-{hit.citation.end})")
        snippet = " ".join(hit.text.split())
        click.echo(f"   {snippet[:200]}{'…' if len(snippet) > 200 else ''}")
