"""Index records that are not files (a BEIR corpus, rows from a database) in large batches.

Each record becomes one document: an element per paragraph, chunked like any file, with the
record's title. Embedding is batched across many records (throughput grows with batch size), and
each record's chunks are swapped into the catalog in its own transaction, as files are.
Records already indexed with the same content are skipped, so an interrupted run resumes.

Example::

    indexer = RecordIndexer(container.embedder, container.vector_store, container.catalog)
    indexer.index(read_corpus(Path("corpus.jsonl")), source_prefix="scifact")
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.chunker import chunk_elements
from ingest.elements import Element
from ingest.writer import make_chunks
from rag.chunk_vectors import embed_chunks
from rag.container import Container
from rag.evaluation.datasets import CorpusRecord, file_digest, read_corpus
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import VectorStore
from rag.types import Chunk

_PARAGRAPH = re.compile(r"\n\s*\n")

RecordProgress = Callable[[int, int], None]


class RecordEmbedder(Protocol):
    """What indexing records needs of an embedder."""

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's tokenizer."""
        ...

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors of ``texts``."""
        ...


@dataclass
class RecordReport:
    """What a records run did."""

    indexed: int = 0
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0


def record_hash(record: CorpusRecord) -> str:
    """Content hash of a record (title and text)."""
    return hashlib.sha256(f"{record.title}\x00{record.text}".encode()).hexdigest()


def record_elements(record: CorpusRecord) -> list[Element]:
    """One text element per paragraph (blank-line separated) of the record's text."""
    return [Element(p.strip()) for p in _PARAGRAPH.split(record.text) if p.strip()]


class RecordIndexer:
    """Chunks, embeds (in batches across records) and stores records as documents."""

    def __init__(
        self,
        embedder: RecordEmbedder,
        store: VectorStore,
        catalog: Catalog,
        *,
        max_tokens: int = 200,
        min_tokens: int = 40,
        batch_chunks: int = 512,
        sentence_vectors: bool = True,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.batch_chunks = batch_chunks
        self.sentence_vectors = sentence_vectors

    @property
    def config_key(self) -> str:
        """What the stored chunks depend on besides a record's text (part of its digest, so of
        its chunk ids: other settings give other ids, and no stale sentence vector survives)."""
        return f"{self.max_tokens}/{self.min_tokens}/{int(self.sentence_vectors)}"

    def chunks_for(self, record: CorpusRecord, doc: DocumentRecord) -> list[Chunk]:
        """The chunks of one record."""
        drafts = chunk_elements(
            record_elements(record),
            title=record.title,
            count_tokens=self.embedder.count_tokens,
            max_tokens=self.max_tokens,
            min_tokens=self.min_tokens,
        )
        return make_chunks(doc, drafts)

    def index(
        self,
        records: Iterable[CorpusRecord],
        *,
        source_prefix: str = "records",
        doc_type: str = "record",
        progress: RecordProgress | None = None,
    ) -> RecordReport:
        """Index ``records`` (doc id = record id, source = ``prefix/id``); skips unchanged ones."""
        started = time.perf_counter()
        report = RecordReport()
        pending: list[tuple[DocumentRecord, list[Chunk]]] = []
        n_pending = 0
        for record in records:
            digest = f"{record_hash(record)}:{self.config_key}"
            source = f"{source_prefix}/{record.id}"
            existing = self.catalog.find_by_source(source)
            if existing is not None and existing.content_hash == digest:
                report.unchanged += 1
                continue
            doc = DocumentRecord(
                doc_id=record.id,
                source=source,
                size=len(record.text),
                content_hash=digest,
                title=record.title,
                doc_type=doc_type,
                metadata={k: str(v) for k, v in record.metadata.items()},
            )
            chunks = self.chunks_for(record, doc)
            pending.append((doc, chunks))
            n_pending += len(chunks)
            if n_pending >= self.batch_chunks:
                self._flush(pending, report)
                pending, n_pending = [], 0
                if progress:
                    progress(report.indexed, report.chunks)
        if pending:
            self._flush(pending, report)
        if progress:
            progress(report.indexed, report.chunks)
        report.seconds = time.perf_counter() - started
        return report

    def _flush(
        self, pending: list[tuple[DocumentRecord, list[Chunk]]], report: RecordReport
    ) -> None:
        chunks = [c for _, cs in pending for c in cs]
        if chunks:
            ids = [c.id for c in chunks]
            vectors, parts = embed_chunks(self.embedder, chunks, sentences=self.sentence_vectors)
            self.store.upsert(ids, vectors, [c.metadata() for c in chunks], parts)
        for doc, cs in pending:
            old = self.catalog.replace_document(doc, cs)
            stale = sorted(set(old) - {c.id for c in cs})
            if stale:
                self.store.delete(stale)
        report.indexed += len(pending)
        report.chunks += len(chunks)


def open_corpus_index(
    container: Container,
    corpus: Path,
    *,
    progress: RecordProgress | None = None,
) -> RecordReport | None:
    """Index a BEIR corpus into ``container``'s data directory unless it is already complete.

    A ``corpus.json`` marker records the corpus digest once every record is in; a data
    directory with the marker for the same corpus is reused as is. Returns the run's report,
    or None when the index was reused.
    """
    c = container.settings.chunking
    indexer = RecordIndexer(
        container.embedder,
        container.vector_store,
        container.catalog,
        max_tokens=c.max_tokens,
        min_tokens=c.min_tokens,
        sentence_vectors=c.sentence_vectors,
    )
    marker = container.settings.data_dir / "corpus.json"
    digest = f"{file_digest(corpus)}:{indexer.config_key}"
    if marker.is_file():
        try:
            done = json.loads(marker.read_text())
        except ValueError:
            done = {}
        if done.get("digest") == digest:
            return None
    report = indexer.index(read_corpus(corpus), source_prefix=corpus.stem, progress=progress)
    marker.write_text(
        json.dumps({"corpus": str(corpus), "digest": digest, "chunks": report.chunks})
    )
    return report
