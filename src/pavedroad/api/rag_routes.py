"""Retrieval over HTTP: collection admin, ingestion (JSON or file upload) and search.

Admin routes need the master key or a tenant admin key (its own tenant); search and the
collection list work with any virtual key, limited to the collections shared with its app.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import msgspec
import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from pavedroad.api.context import caller_of, gateway_of
from pavedroad.api.parsing import read_json, validate
from pavedroad.api.responses import json_response
from pavedroad.api.scope import actor_of, reader_tenant
from pavedroad.core.errors import (
    InvalidJSON,
    InvalidRequest,
    RequestTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from pavedroad.rag.chunking import DEFAULT_OVERLAP, DEFAULT_TOKENS
from pavedroad.rag.ingest import SourceDocument
from pavedroad.rag.service import RetrievalService
from pavedroad.rag.types import Hit

INGEST_LIMIT = 32 * 1024 * 1024  # bytes per ingestion request
FILE_LIMIT = 16 * 1024 * 1024  # bytes per uploaded file


class CollectionBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    tenant: str | None = None
    apps: list[str] = []
    description: str = ""
    chunk_tokens: int = DEFAULT_TOKENS
    chunk_overlap: int = DEFAULT_OVERLAP


class AppsBody(msgspec.Struct, forbid_unknown_fields=True):
    apps: list[str]


class DocumentBody(msgspec.Struct, forbid_unknown_fields=True):
    source: str
    text: str
    title: str | None = None
    media_type: str | None = None
    metadata: dict[str, Any] = {}


class IngestBody(msgspec.Struct, forbid_unknown_fields=True):
    documents: list[DocumentBody]
    prune: bool = False  # delete stored documents that are not in `documents`


class SearchBody(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    k: int = 10
    mode: str = "hybrid"
    filters: dict[str, Any] | None = None
    rerank: bool | None = None  # None: the gateway's `retrieval.rerank`



def _service(request: Request) -> RetrievalService:
    rag = gateway_of(request).rag
    if rag is None:
        raise ServiceUnavailable("retrieval is not enabled on this gateway")
    return rag


async def create_collection(request: Request) -> Response:
    body = validate(await read_json(request, limit=64 * 1024), CollectionBody)
    record = await _service(request).create_collection(
        body.name, tenant=body.tenant, apps=body.apps, description=body.description,
        chunk_tokens=body.chunk_tokens, chunk_overlap=body.chunk_overlap,
        caller=caller_of(request), actor=actor_of(caller_of(request)))
    return json_response(record.public(), status=201)


async def admin_list_collections(request: Request) -> Response:
    reader_tenant(request)  # the master key or a tenant admin
    records = await _service(request).list_collections(caller=caller_of(request))
    return json_response({"object": "list", "data": [r.public() for r in records]})


async def get_collection(request: Request) -> Response:
    reader_tenant(request)
    rag, caller = _service(request), caller_of(request)
    record = await rag.collection(request.path_params["collection"], caller=caller)
    documents = await rag.documents(record.id, caller=caller)
    return json_response({**record.public(), "documents": [d.public() for d in documents]})


async def delete_collection(request: Request) -> Response:
    caller = caller_of(request)
    record = await _service(request).delete_collection(request.path_params["collection"],
                                                       caller=caller, actor=actor_of(caller))
    return json_response({**record.public(), "deleted": True})


async def set_apps(request: Request) -> Response:
    body = validate(await read_json(request, limit=64 * 1024), AppsBody)
    caller = caller_of(request)
    record = await _service(request).share(request.path_params["collection"], body.apps,
                                           caller=caller, actor=actor_of(caller))
    return json_response(record.public())


async def ingest(request: Request) -> Response:
    """JSON `{"documents": [{"source", "text", ...}], "prune"}` or multipart files (field
    `files`, optional `metadata` JSON for all of them)."""
    rag, caller = _service(request), caller_of(request)
    ref = request.path_params["collection"]
    await rag.collection(ref, caller=caller, manage=True)  # refuse before reading the body
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    prune: str | None = None
    if kind == "multipart/form-data":
        documents = await _uploaded(request)
    else:
        body = validate(await read_json(request, limit=INGEST_LIMIT), IngestBody)
        if not body.documents:
            raise InvalidRequest("`documents` must list at least one document",
                                 param="documents")
        documents = [SourceDocument(d.source, d.text, d.media_type, d.title, d.metadata)
                     for d in body.documents]
        prune = "" if body.prune else None
    for i, doc in enumerate(documents):
        if not doc.source.strip() or len(doc.source) > 1000:
            raise InvalidRequest("a document's `source` must be 1 to 1000 characters",
                                 param=f"documents[{i}].source")
    report = await rag.ingest(ref, documents, prune=prune, caller=caller, actor=actor_of(caller))
    return json_response(asdict(report))


async def _uploaded(request: Request) -> list[SourceDocument]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > INGEST_LIMIT:
        raise RequestTooLarge(f"the upload is {declared} bytes; the limit is {INGEST_LIMIT}")
    async with request.form(max_files=1000, max_fields=20, max_part_size=FILE_LIMIT) as form:
        metadata = _metadata(form.get("metadata"))
        documents: list[SourceDocument] = []
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile):
                continue
            if name not in ("file", "files"):
                raise InvalidRequest(f"upload files in the field `files` (got {name!r})",
                                     param=name)
            data = await value.read(FILE_LIMIT + 1)
            if len(data) > FILE_LIMIT:
                raise RequestTooLarge(f"{value.filename}: larger than {FILE_LIMIT} bytes")
            declared_type = value.content_type if value.content_type not in (
                None, "application/octet-stream") else None
            documents.append(SourceDocument(value.filename or name, data, declared_type,
                                            None, metadata))
    if not documents:
        raise InvalidRequest("the upload holds no file; send them in the field `files`",
                             param="files")
    return documents


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, str):
        raise InvalidRequest("`metadata` must be a JSON object sent as a form field",
                             param="metadata")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJSON("`metadata` is not valid JSON", param="metadata") from None
    if not isinstance(value, dict):
        raise InvalidRequest("`metadata` must be a JSON object", param="metadata")
    return value


def hit_public(hit: Hit, rank: int) -> dict[str, Any]:
    return {"rank": rank, "chunk_id": hit.chunk_id, "score": hit.score, "text": hit.text,
            "citation": asdict(hit.citation), "metadata": dict(hit.metadata)}


async def search(request: Request) -> Response:
    """POST /v1/collections/{collection}/search: ranked chunks with scores and citations."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise UnsupportedMediaType("send the search as JSON")
    body = validate(await read_json(request, limit=256 * 1024), SearchBody)
    rag = _service(request)
    hits = await rag.search(request.path_params["collection"], body.query, k=body.k,
                            mode=body.mode,  # type: ignore[arg-type]  # checked by search
                            filters=body.filters, rerank=body.rerank,
                            caller=caller_of(request))
    return json_response({"object": "list", "collection": request.path_params["collection"],
                  "mode": body.mode, "data": [hit_public(h, i + 1) for i, h in enumerate(hits)]})


async def list_collections(request: Request) -> Response:
    """GET /v1/collections: the collections this key may search."""
    records = await _service(request).list_collections(caller=caller_of(request))
    return json_response({"object": "list", "data": [
        {"id": r.id, "object": "collection", "name": r.name, "description": r.description}
        for r in records]})
