"""The ``Ingestor``: discover files, skip unchanged ones, parse, chunk, embed, write.

A changed document is swapped in one catalog transaction (old chunks or new, never both); its new
vectors are written before the swap and its old ones deleted after it, so an interruption at any
point leaves only orphan vectors, which the catalog ignores and the next run removes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunker import chunk_elements
from ingest.elements import ParsedDocument
from ingest.parsers import is_supported, parse
from rag.embedder import SentenceTransformerEmbedder
from rag.errors import IngestError, NotFoundError, RagsteadError
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import VectorStore
from rag.types import Chunk

ProgressHook = Callable[[str, Path], None]


@dataclass
class IngestReport:
    """What an ingestion run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


def doc_id_for(source: str) -> str:
    """Stable document id of a source path."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(root: Path) -> Iterator[Path]:
    """Files under ``root`` (or ``root`` itself), hidden files and folders left out, sorted."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            yield path


class Ingestor:
    """Indexes files into the catalog and the vector store."""

    def __init__(
        self,
        embedder: SentenceTransformerEmbedder,
        store: VectorStore,
        catalog: Catalog,
        *,
        max_tokens: int = 200,
        min_tokens: int = 40,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens

    def ingest(
        self, root: Path, *, prune: bool = False, progress: ProgressHook | None = None
    ) -> IngestReport:
        """Index a file or folder; with ``prune``, drop documents whose files are gone."""
        started = time.perf_counter()
        root = root.expanduser()
        if not root.exists():
            raise NotFoundError(f"no such file or folder: {root}", hint="check the path")
        root = root.resolve()
        report = IngestReport()
        explicit_file = root.is_file()
        for path in discover(root):
            if progress:
                progress("file", path)
            if not is_supported(path) and not explicit_file:
                report.skipped.append((str(path), f"unsupported format {path.suffix or '(none)'}"))
                continue
            try:
                self._ingest_file(path, report)
            except IngestError as exc:
                report.failed.append((str(path), str(exc)))
        if prune:
            self._prune(root, report)
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, path: Path, report: IngestReport) -> None:
        source = str(path)
        stat = path.stat()
        record = self.catalog.find_by_source(source)
        if record and record.size == stat.st_size and record.mtime == stat.st_mtime:
            report.unchanged.append(source)
            return
        digest = file_hash(path)
        if record and record.content_hash == digest:
            record.mtime = stat.st_mtime
            self.catalog.replace_document(record, self.catalog.chunks_of(record.doc_id))
            report.unchanged.append(source)
            return
        try:
            parsed = parse(path)
        except IngestError:
            raise
        except Exception as exc:  # a parser bug must not stop the run
            raise IngestError(f"could not parse {path.name}: {exc}") from exc
        base = DocumentRecord(
            doc_id=doc_id_for(source),
            source=source,
            size=stat.st_size,
            mtime=stat.st_mtime,
            content_hash=digest,
            doc_type=path.suffix.lower().lstrip("."),
        )
        report.chunks += self.index_document(base, parsed)
        (report.updated if record else report.added).append(source)

    def index_document(self, record: DocumentRecord, parsed: ParsedDocument) -> int:
        """Chunk, embed and swap in one document and its children; returns chunks written."""
        record.title = parsed.title or Path(record.source).stem
        record.metadata = {**parsed.metadata, "warnings": parsed.warnings}
        drafts = chunk_elements(
            parsed.elements,
            title=record.title,
            count_tokens=self.embedder.count_tokens,
            max_tokens=self.max_tokens,
            min_tokens=self.min_tokens,
        )
        chunks = [
            Chunk(
                id=f"{record.doc_id}-{record.content_hash[:8]}-{i:05d}",
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
            )
            for i, d in enumerate(drafts)
        ]
        if chunks:
            vectors = self.embedder.embed_batch([c.embed_text() for c in chunks])
            self.store.upsert([c.id for c in chunks], vectors, [c.metadata() for c in chunks])
        old_ids = self.catalog.replace_document(record, chunks)
        stale = sorted(set(old_ids) - {c.id for c in chunks})
        if stale:
            self.store.delete(stale)
        written = len(chunks)
        for name, child in parsed.children:
            child_source = f"{record.source}#{name}"
            child_record = DocumentRecord(
                doc_id=doc_id_for(child_source),
                source=child_source,
                size=0,
                mtime=record.mtime,
                content_hash=record.content_hash,
                doc_type=Path(name).suffix.lower().lstrip("."),
                groups=record.groups,
                parent_id=record.doc_id,
            )
            written += self.index_document(child_record, child)
        return written

    def _prune(self, root: Path, report: IngestReport) -> None:
        prefix = str(root)
        for record in self.catalog.documents():
            if record.parent_id is not None:
                continue
            if not (record.source == prefix or record.source.startswith(prefix + "/")):
                continue
            if not Path(record.source).exists():
                self.delete(record.doc_id)
                report.removed.append(record.source)

    def delete(self, doc_id: str) -> list[str]:
        """Remove a document, its attachments and their vectors; returns the sources removed."""
        record = self.catalog.get_document(doc_id)
        removed = [record.source]
        for child in self.catalog.documents():
            if child.parent_id == doc_id:
                removed.extend(self.delete(child.doc_id))
        try:
            self.store.delete(self.catalog.delete_document(doc_id))
        except RagsteadError:
            raise
        return removed
