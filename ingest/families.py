"""The families the writer swaps in, built from parse results or from chunks already stored.

A family is a file and the attachments inside it (mail attachments, mbox messages, nested
mails): they are swapped in one transaction, and attachments the previous version had but the
new one lacks are deleted in the same transaction. A copy, a move or a change of access groups
is built from the stored chunks and vectors, with new ids, so nothing is parsed or embedded.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

from ingest.plan import Job, Reuse
from ingest.workers import FileResult
from ingest.writer import Family, chunk_version, label_tags, make_chunks
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import VectorStore
from rag.types import Chunk


def doc_id_for(source: str) -> str:
    """Stable document id of a source path."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


class FamilyBuilder:
    """Builds families against the catalog's current state."""

    def __init__(self, catalog: Catalog, store: VectorStore, index_config: dict[str, Any]) -> None:
        self.catalog = catalog
        self.store = store
        self.index_config = index_config

    def descendants(self, doc_id: str) -> list[DocumentRecord]:
        """Attachments of a document, and theirs, depth first."""
        out: list[DocumentRecord] = []
        for child in self.catalog.children_of(doc_id):
            out.append(child)
            out.extend(self.descendants(child.doc_id))
        return out

    def obsolete(
        self, previous: DocumentRecord | None, docs: Sequence[tuple[DocumentRecord, Any]]
    ) -> list[str]:
        """Attachments of the previous version that the new one no longer has."""
        if previous is None:
            return []
        keep = {record.doc_id for record, _ in docs}
        return [d.doc_id for d in self.descendants(previous.doc_id) if d.doc_id not in keep]

    def from_result(self, result: FileResult, job: Job) -> Family:
        """The family of a freshly parsed file."""
        source = result.path
        ids = {"": doc_id_for(source)}
        docs: list[tuple[DocumentRecord, list[Chunk]]] = []
        for doc in result.documents:
            top = not doc.name
            doc_source = source if top else f"{source}#{doc.name}"
            ids[doc.name] = doc_id_for(doc_source)
            parent = None if top else ids[doc.name.rsplit("#", 1)[0] if "#" in doc.name else ""]
            record = DocumentRecord(
                doc_id=ids[doc.name],
                source=doc_source,
                size=result.size if top else 0,
                mtime=result.mtime,
                content_hash=result.content_hash,
                title=doc.title,
                doc_type=doc.doc_type,
                groups=job.groups,
                parent_id=parent,
                metadata={
                    **doc.metadata,
                    # labels set over the API outlive a change of the file's bytes
                    "labels": job.record.metadata.get("labels", {}) if job.record else {},
                    "warnings": doc.warnings,
                    "origin": "file" if top else "attachment",
                    "index": self.index_config,
                    "profile": doc.profile,
                },
            )
            docs.append((record, make_chunks(record, doc.drafts)))
        return Family(docs, obsolete=self.obsolete(job.record, docs))

    def from_stored(self, reuse: Reuse, labels: dict[str, str] | None = None) -> Family:
        """A copy, move, regroup or relabel: the stored chunks and vectors under new ids."""
        old, new_source = reuse.source, str(reuse.job.path)
        old_docs = [old, *self.descendants(old.doc_id)]
        ids = {d.doc_id: doc_id_for(new_source + d.source[len(old.source) :]) for d in old_docs}
        docs: list[tuple[DocumentRecord, list[Chunk]]] = []
        old_chunk_ids: dict[str, str] = {}
        for d in old_docs:
            top = d is old
            record = dataclasses.replace(
                d,
                doc_id=ids[d.doc_id],
                source=new_source + d.source[len(old.source) :],
                size=reuse.size if top else 0,
                mtime=reuse.mtime,
                groups=reuse.job.groups,
                parent_id=None if top else ids.get(d.parent_id or "", d.parent_id),
                status="indexed",
                error=None,
                metadata={**d.metadata, "index": self.index_config},
            )
            if labels is not None:
                record.metadata["labels"] = dict(labels)
            version = chunk_version(record)
            chunks = []
            for c in self.catalog.chunks_of(d.doc_id):
                new = dataclasses.replace(
                    c,
                    id=f"{record.doc_id}-{version}-{c.chunk_index:05d}",
                    doc_id=record.doc_id,
                    source=record.source,
                    groups=record.groups,
                    mtime=record.mtime,
                    tags=label_tags(record),
                )
                old_chunk_ids[new.id] = c.id
                chunks.append(new)
            docs.append((record, chunks))
        found = self.store.get_vectors(list(old_chunk_ids.values()))
        vectors = {new: found[o] for new, o in old_chunk_ids.items() if o in found}
        found_parts = self.store.get_parts(list(old_chunk_ids.values()))
        parts = {new: found_parts[o] for new, o in old_chunk_ids.items() if o in found_parts}
        if reuse.rename:
            obsolete = [d.doc_id for d in old_docs]
        else:
            obsolete = self.obsolete(reuse.job.record, docs)
        return Family(docs, obsolete=obsolete, vectors=vectors, parts=parts)
