"""Documents over REST: list, show, download the original, relabel and delete.

What a caller may not see answers 404, exactly as what does not exist. Listing is filtered in
SQL by the caller's groups; every route that takes an id checks the document's groups first.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
from pathlib import Path
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from api.audit import audit_note
from api.auth.principal import Principal, may_see
from api.deps import PrincipalDep, ReaderDep, StateDep, source_view
from api.schemas import DocumentList, DocumentOut, DocumentPatch, DocumentStatus
from api.source_view import SourceView
from rag.errors import InvalidRequestError, NotFoundError
from rag.settings import COLLECTION_NAME
from rag.stores.catalog import Catalog, DocumentRecord

router = APIRouter(prefix="/v1", tags=["documents"])
CollectionQuery = Annotated[
    str, Query(pattern=COLLECTION_NAME, description="the collection (default: default)")
]


def _visible(catalog: Catalog, principal: Principal, doc_id: str) -> DocumentRecord:
    """The document, or NotFoundError when it does not exist or the caller may not see it."""
    try:
        record = catalog.get_document(doc_id)
    except NotFoundError:
        record = None
    if record is None or not may_see(principal, record.groups):
        raise NotFoundError(f"no document with id {doc_id}", hint="GET /v1/documents lists them")
    return record


def _out(record: DocumentRecord, pages: int | None, view: SourceView, **extra: Any) -> DocumentOut:
    labels = record.metadata.get("labels") or {}
    return DocumentOut(
        id=record.doc_id,
        source=view.source(record.source),
        title=record.title,
        type=record.doc_type,
        groups=list(record.groups),
        labels={str(k): str(v) for k, v in labels.items()},
        status=record.status,
        error=record.error and record.error.replace(record.source, view.source(record.source)),
        pages=pages,
        chunks=record.n_chunks,
        size=record.size,
        parent_id=record.parent_id,
        indexed_at=record.indexed_at,
        **extra,
    )


# Cursors carry the last source of a page, sealed with a key of this process: a caller learns
# no server path from one, and cannot forge one (a restart makes old cursors invalid).
_CURSOR_KEY = AESGCM(AESGCM.generate_key(bit_length=128))


def _cursor(source: str) -> str:
    nonce = os.urandom(12)
    sealed = _CURSOR_KEY.encrypt(nonce, source.encode(), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _after(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        raw = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True)
        return _CURSOR_KEY.decrypt(raw[:12], raw[12:], None).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError, InvalidTag) as exc:
        raise InvalidRequestError(
            "bad or expired cursor", hint="pass the 'next' value of a listing, or start again"
        ) from exc


@router.get("/documents", response_model=DocumentList)
def list_documents(
    state: StateDep,
    principal: ReaderDep,
    collection: CollectionQuery = "default",
    status: Annotated[DocumentStatus | None, Query(description="indexed or failed")] = None,
    type: Annotated[str | None, Query(max_length=16, description="file type, e.g. pdf")] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of the path")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096, description="'next' of a page")] = None,
) -> DocumentList:
    """The documents the caller may see, by source, a page at a time."""
    catalog = state.container_for(collection, principal).catalog
    records = catalog.list_documents(
        groups=None if principal.is_admin else principal.groups,
        status=status,
        doc_type=type,
        name=name,
        after=_after(cursor),
        limit=limit + 1,
    )
    more = len(records) > limit
    records = records[:limit]
    pages = catalog.page_counts([r.doc_id for r in records])
    view = source_view(state, collection, principal)
    return DocumentList(
        documents=[_out(r, pages.get(r.doc_id), view) for r in records],
        next=_cursor(records[-1].source) if more else None,
    )


@router.get("/documents/{doc_id}", response_model=DocumentOut)
def get_document(
    doc_id: str, state: StateDep, principal: ReaderDep, collection: CollectionQuery = "default"
) -> DocumentOut:
    """One document: its manifest entry, pages, chunk ids and attachments."""
    catalog = state.container_for(collection, principal).catalog
    record = _visible(catalog, principal, doc_id)
    chunks = catalog.chunks_of(doc_id)
    return _out(
        record,
        catalog.page_counts([doc_id]).get(doc_id),
        source_view(state, collection, principal),
        chunk_ids=[c.id for c in chunks],
        attachments=[c.doc_id for c in catalog.children_of(doc_id)],
    )


@router.get("/documents/{doc_id}/file", response_class=FileResponse)
def get_document_file(
    doc_id: str,
    request: Request,
    state: StateDep,
    principal: ReaderDep,
    collection: CollectionQuery = "default",
) -> FileResponse:
    """The original file, shown inline (a PDF citation opens at ``#page=N``)."""
    catalog = state.container_for(collection, principal).catalog
    record = _visible(catalog, principal, doc_id)
    audit_note(request, documents=[doc_id])
    path = Path(record.source)
    if record.parent_id is not None or not path.is_file() or path.is_symlink():
        raise NotFoundError(
            f"the original of document {doc_id} is not stored as a file",
            hint="attachments and records have no file of their own",
        )
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(
        path, media_type=media, filename=path.name, content_disposition_type="inline"
    )


def _writer(principal: PrincipalDep) -> Principal:
    principal.require("write")
    return principal


WriterDep = Annotated[Principal, Depends(_writer)]


@router.patch("/documents/{doc_id}", response_model=DocumentOut)
def patch_document(
    doc_id: str,
    body: DocumentPatch,
    request: Request,
    state: StateDep,
    principal: WriterDep,
    collection: CollectionQuery = "default",
) -> DocumentOut:
    """New access groups or labels, without parsing or embedding again."""
    from ingest.service import build_ingestor

    container = state.container_for(collection, principal)
    _visible(container.catalog, principal, doc_id)
    if body.groups is not None and not principal.is_admin:
        outside = set(body.groups) - principal.groups
        if outside or not body.groups:
            raise InvalidRequestError(
                "a document may only be given groups its editor belongs to"
                + (f" (not: {', '.join(sorted(outside))})" if outside else ""),
                hint="an admin key can set any groups",
            )
    audit_note(request, change="relabel", document=doc_id, groups=body.groups, labels=body.labels)
    record = build_ingestor(container).relabel(doc_id, groups=body.groups, labels=body.labels)
    pages = container.catalog.page_counts([doc_id]).get(doc_id)
    return _out(record, pages, source_view(state, collection, principal))


@router.delete("/documents/{doc_id}", status_code=204)
def delete_document(
    doc_id: str,
    request: Request,
    state: StateDep,
    principal: WriterDep,
    collection: CollectionQuery = "default",
) -> None:
    """Remove a document, its attachments and their vectors."""
    from ingest.service import build_ingestor

    container = state.container_for(collection, principal)
    _visible(container.catalog, principal, doc_id)
    audit_note(request, change="delete", document=doc_id)
    build_ingestor(container).delete(doc_id)
