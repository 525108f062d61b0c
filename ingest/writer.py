"""Embed chunks in batches and swap documents in: a query sees a document's old chunks or its
new ones, never both or neither.

For each batch: the new chunk ids and the ids they replace go into the manifest's journal;
the new vectors are written (an id the new version keeps is overwritten, never deleted first);
the catalog swaps the documents in one transaction (the catalog decides which ids are live, so
until then the new vectors are invisible); the replaced vectors that are not rewritten are
deleted; the journal is cleared. A crash at any point leaves only journalled orphans, which
the next run deletes, and kept ids whose vectors may belong to the other version, whose
documents the next run re-indexes (:meth:`ingest.manifest.Manifest.recover`).

Example::

    writer = IndexWriter(embedder, store, catalog, Manifest(catalog), batch=256)
    writer.add(Family([(record, chunks)]))
    writer.flush()
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ingest.chunker import ChunkDraft
from ingest.manifest import Manifest
from rag.chunk_vectors import embed_chunks, sentence_texts
from rag.embedders.base import Embedder
from rag.errors import NotFoundError, StoreError
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import VectorStore
from rag.types import Chunk


def chunk_version(record: DocumentRecord) -> str:
    """What chunk ids of a document version depend on: its bytes and its access groups."""
    key = f"{record.content_hash}|{','.join(record.groups)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def label_tags(record: DocumentRecord) -> tuple[str, ...]:
    """A document's labels (``metadata["labels"]``, set over the API) as chunk tags
    ``key:value``, which filters select on."""
    labels = record.metadata.get("labels") or {}
    return tuple(sorted(f"{k}:{v}" for k, v in labels.items()))


def make_chunks(record: DocumentRecord, drafts: Sequence[ChunkDraft]) -> list[Chunk]:
    """The chunks of one document version, with ids unique to that version."""
    version = chunk_version(record)
    return [
        Chunk(
            id=f"{record.doc_id}-{version}-{i:05d}",
            doc_id=record.doc_id,
            text=d.text,
            source=record.source,
            title=record.title,
            section=d.section,
            page=d.page,
            page_end=d.page_end,
            page_breaks=tuple(d.page_breaks),
            kinds=",".join(d.kinds),
            chunk_index=i,
            content_hash=hashlib.sha256(d.text.encode("utf-8")).hexdigest()[:16],
            mtime=record.mtime,
            doc_type=record.doc_type,
            groups=record.groups,
            tags=label_tags(record),
        )
        for i, d in enumerate(drafts)
    ]


@dataclass
class Family:
    """Documents swapped in together: a file and the attachments inside it."""

    docs: list[tuple[DocumentRecord, list[Chunk]]]
    #: documents deleted in the same transaction (attachments that are gone, a renamed file).
    obsolete: list[str] = field(default_factory=list)
    #: vectors reused rather than embedded, by new chunk id.
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    #: sentence vectors reused with them, by new chunk id.
    parts: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        """Chunks in all its documents."""
        return sum(len(chunks) for _, chunks in self.docs)


class IndexWriter:
    """Collects families, embeds their chunks in batches and swaps them in."""

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        catalog: Catalog,
        manifest: Manifest,
        *,
        batch: int = 256,
        sentences: bool = True,
        before_embed: Callable[[], None] | None = None,
        on_embedded: Callable[[int], None] | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.manifest = manifest
        self.batch = batch
        self.sentences = sentences
        self.before_embed = before_embed
        self.on_embedded = on_embedded
        self.pending: list[Family] = []
        self.pending_chunks = 0
        self.embedded = 0
        self.written = 0
        self.embed_seconds = 0.0

    def add(self, family: Family) -> None:
        """Queue a family; writes a batch once enough chunks are waiting."""
        self.pending.append(family)
        self.pending_chunks += family.n_chunks
        if self.pending_chunks >= self.batch:
            self.flush()

    def _embed(self, chunks: list[Chunk]) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Chunk vectors and (with ``sentences``) sentence vectors, in slices of 256 chunks for
        progress (the embedder sorts a slice's texts by length: a larger slice pads less)."""
        if self.before_embed is not None:
            self.before_embed()
        size = max(256, 2 * self.embedder.batch_size)
        whole: list[np.ndarray] = []
        parts: list[np.ndarray] | None = [] if self.sentences else None
        for start in range(0, len(chunks), size):
            began = time.perf_counter()
            vectors, sentence_vectors = embed_chunks(
                self.embedder, chunks[start : start + size], sentences=self.sentences
            )
            self.embed_seconds += time.perf_counter() - began
            whole.append(vectors)
            if parts is not None and sentence_vectors is not None:
                parts.extend(sentence_vectors)
            self.embedded += len(vectors)
            if self.on_embedded is not None:
                self.on_embedded(len(vectors))
        return np.vstack(whole), parts

    def flush(self) -> int:
        """Embed and swap in everything queued; returns the chunks written."""
        families, self.pending, self.pending_chunks = self.pending, [], 0
        if not families:
            return 0
        chunks = [c for fam in families for _, cs in fam.docs for c in cs]
        reused = {cid: v for fam in families for cid, v in fam.vectors.items()}
        reused_parts = {cid: v for fam in families for cid, v in fam.parts.items()}
        # A reused vector needs its sentence vectors too, or it is embedded afresh.
        to_embed = [
            c
            for c in chunks
            if c.id not in reused
            or (self.sentences and c.id not in reused_parts and sentence_texts(c))
        ]
        by_id = dict(reused)
        parts_by_id = dict(reused_parts) if self.sentences else {}
        if to_embed:
            fresh, fresh_parts = self._embed(to_embed)
            by_id.update(zip((c.id for c in to_embed), fresh, strict=True))
            if fresh_parts is not None:
                parts_by_id.update(zip((c.id for c in to_embed), fresh_parts, strict=True))
        new_ids = [c.id for c in chunks]
        doc_ids = [rec.doc_id for fam in families for rec, _ in fam.docs]
        doc_ids += [oid for fam in families for oid in fam.obsolete]
        old_ids = self.manifest.chunk_ids(doc_ids)
        # Ids kept across a forced re-index may now hold other text (new chunking settings).
        # They are overwritten in place, never deleted first: a crash before the catalog swap
        # leaves them live with the old or the new vectors, and recovery re-indexes their
        # documents (``Manifest.recover``).
        kept = sorted(set(old_ids) & set(new_ids))
        self.manifest.journal_add([*new_ids, *old_ids], rewritten=kept)
        if chunks:
            vectors = np.vstack([by_id[cid] for cid in new_ids]).astype(np.float32)
            none = np.zeros((0, vectors.shape[1]), dtype=np.float32)
            parts = [parts_by_id.get(cid, none) for cid in new_ids] if self.sentences else None
            self.store.upsert(new_ids, vectors, [c.metadata() for c in chunks], parts)
        try:
            with self.catalog.atomic():
                for fam in families:
                    for record, doc_chunks in fam.docs:
                        self.catalog.replace_document(record, doc_chunks)
                    for oid in fam.obsolete:
                        with contextlib.suppress(NotFoundError):
                            self.catalog.delete_document(oid)
        except sqlite3.Error as exc:
            raise StoreError(f"writing to the index failed: {exc}") from exc
        stale = sorted(set(old_ids) - set(new_ids))
        if stale:
            self.store.delete(stale)
        self.manifest.journal_remove([*new_ids, *old_ids], rewritten=kept)
        self.written += len(chunks)
        return len(chunks)

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents and their vectors (journalled like a swap)."""
        old_ids = self.manifest.chunk_ids(doc_ids)
        self.manifest.journal_add(old_ids)
        # The vectors and the catalog rows go at the same time (both libraries release the GIL):
        # a document being deleted may briefly be found by BM25 alone, never by a stale vector.
        with ThreadPoolExecutor(1) as pool:
            vectors = pool.submit(self.store.delete, old_ids) if old_ids else None
            with self.catalog.atomic():
                for doc_id in doc_ids:
                    self.catalog.delete_document(doc_id)
            if vectors is not None:
                vectors.result()
        self.manifest.journal_remove(old_ids)
