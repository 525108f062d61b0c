"""The ``Ingestor``: discover files, skip unchanged ones, parse, chunk, embed, write.

A run compares the files with the manifest (:mod:`ingest.plan`) without reading unchanged ones,
parses and chunks the rest in worker processes (:mod:`ingest.workers`) while the main process
embeds and writes (:mod:`ingest.writer`), so parsing and embedding overlap. A bad file is
recorded in the manifest with its reason and the run goes on. With ``prune``, documents whose
files are gone are removed.

Example::

    ingestor = build_ingestor(container)      # ingest.service
    report = ingestor.ingest(Path("~/handbook"), prune=True, groups=["hr"])
    print(report.added, report.failed)
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ingest.chunker import CHUNKER_VERSION, chunk_elements
from ingest.elements import ParsedDocument
from ingest.families import FamilyBuilder, doc_id_for
from ingest.manifest import Manifest
from ingest.plan import GroupResolver, Job, Plan, Reuse, make_plan, vanished
from ingest.report import IngestProgress, IngestReport, ProgressHook
from ingest.workers import (
    ChunkOptions,
    FileResult,
    ParsePool,
    document_title,
    file_hash,
)
from ingest.writer import Family, IndexWriter, make_chunks
from rag.doc_profile import build_profile, first_page_text
from rag.embedders.base import Embedder
from rag.errors import ConfigurationError, InvalidRequestError, NotFoundError
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import VectorStore

__all__ = [
    "IngestProgress",
    "IngestReport",
    "Ingestor",
    "ProgressHook",
    "doc_id_for",
    "file_hash",
    "index_config",
]

#: a batch is written early, once this many chunks wait and no parsed file is queued, so slow
#: parsing never starves the embedder. At 32, quick files (300 abstracts) were embedded in
#: batches of about 43 chunks, padded to 21 % more tokens than their own; at 128, 9 %.
_EARLY_FLUSH = 128


def index_config(
    embedder: Embedder, *, max_tokens: int, min_tokens: int, sentence_vectors: bool
) -> dict[str, Any]:
    """What stored chunks and vectors depend on besides the bytes (a change re-indexes every
    file). How sentence vectors are made is part of it only where they are not made a pass
    each (the way every index before that setting was made: such an index is not
    re-embedded), and as the embedder makes them (an embedding server: always a pass each)."""
    config: dict[str, Any] = {
        "embedder": embedder.name,
        "max_tokens": max_tokens,
        "min_tokens": min_tokens,
        "chunker": CHUNKER_VERSION,
        "sentence_vectors": sentence_vectors,
    }
    pooling = getattr(embedder, "sentence_pooling", "separate")
    if sentence_vectors and pooling != "separate":
        config["sentence_pooling"] = pooling
    precision = getattr(embedder, "document_precision", "float32")
    if precision != "float32":  # as the pooling: indexes made before it are not re-embedded
        config["document_precision"] = precision
    return config


class _Tracker:
    """Counts what a run has done and passes snapshots to the progress hook."""

    def __init__(self, hook: ProgressHook | None, started: float) -> None:
        self.hook = hook
        self.state = IngestProgress("scan")
        self.started = started

    def emit(self, phase: str | None = None, current: str | None = None) -> None:
        if phase is not None:
            self.state.phase = phase
        if current is not None:
            self.state.current = current
        if self.hook is not None:
            self.state.elapsed = time.perf_counter() - self.started
            self.hook(dataclasses.replace(self.state))

    def file_done(self, path: str, pages: int = 0) -> None:
        self.state.files_done += 1
        self.state.pages += pages
        self.emit(current=path)

    def embedded(self, n: int) -> None:
        self.state.chunks += n
        self.emit()


class Ingestor:
    """Indexes files into the catalog and the vector store."""

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        catalog: Catalog,
        *,
        max_tokens: int = 200,
        min_tokens: int = 40,
        workers: int | None = None,
        parse_timeout_s: float = 300.0,
        embed_batch: int = 256,
        worker_nice: int = 10,
        groups: Sequence[str] = (),
        sentence_vectors: bool = True,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.workers = max(1, (os.cpu_count() or 2) - 1) if workers is None else workers
        self.parse_timeout_s = parse_timeout_s
        self.embed_batch = embed_batch
        self.worker_nice = worker_nice
        self.groups = tuple(groups)
        self.sentence_vectors = sentence_vectors
        self.manifest = Manifest(catalog)
        self._budget_checked = False

    @property
    def index_config(self) -> dict[str, Any]:
        """What chunks depend on besides the bytes; a change re-indexes every file."""
        return index_config(
            self.embedder,
            max_tokens=self.max_tokens,
            min_tokens=self.min_tokens,
            sentence_vectors=self.sentence_vectors,
        )

    # -- runs ---------------------------------------------------------------------------------

    def ingest(
        self,
        root: Path,
        *,
        prune: bool = False,
        progress: ProgressHook | None = None,
        groups: Sequence[str] | None = None,
        force: bool = False,
    ) -> IngestReport:
        """Index a file or folder; with ``prune``, drop documents whose files are gone.

        ``groups`` are the access groups of files without a ``.ragstead-groups`` file above
        them (None: indexed files keep theirs, new ones get the ingestor's default);
        ``force`` re-parses every file.
        """
        started = time.perf_counter()
        root = Path(root).expanduser()
        if not root.exists():
            raise NotFoundError(f"no such file or folder: {root}", hint="check the path")
        root = root.resolve()
        report = IngestReport()
        tracker = _Tracker(progress, started)
        with self.catalog.ingest_lock():
            tracker.emit("scan", str(root))
            self.manifest.recover(self.store)
            records = self.catalog.documents()
            resolver = GroupResolver(root, groups, self.groups)
            plan = make_plan(
                root,
                records,
                config=self.index_config,
                resolver=resolver,
                force=force,
                prune=prune,
            )
            report.unchanged.extend(plan.unchanged)
            report.failed.extend(plan.failed)
            report.skipped.extend(plan.skipped)
            tracker.state.files_total = plan.files
            tracker.state.files_done = len(plan.unchanged) + len(plan.failed)
            tracker.emit("index")
            writer = self._writer(on_embedded=tracker.embedded)
            for reuse in plan.reuse:
                self._reuse(reuse, writer, report)
                tracker.file_done(str(reuse.job.path))
            if plan.tasks:
                self._parse_and_index(plan, writer, report, tracker)
            writer.flush()
            report.embed_seconds = writer.embed_seconds
            if prune:
                tracker.emit("prune", str(root))
                keep = {r.source.source for r in plan.reuse if r.rename}
                for record in vanished(records, root, keep, plan.refused):
                    self.delete(record.doc_id)
                    report.removed.append(record.source)
        report.seconds = time.perf_counter() - started
        tracker.emit("done", "")
        return report

    def sync(self, root: Path, **options: Any) -> IngestReport:
        """``ingest`` with ``prune``: the index then mirrors the folder."""
        return self.ingest(root, prune=True, **options)

    def recover(self) -> int:
        """Delete vectors left by an interrupted run; returns how many."""
        with self.catalog.ingest_lock():
            return self.manifest.recover(self.store)

    def _writer(self, **hooks: Any) -> IndexWriter:
        return IndexWriter(
            self.embedder,
            self.store,
            self.catalog,
            self.manifest,
            batch=self.embed_batch,
            sentences=self.sentence_vectors,
            before_embed=self._check_budget,
            **hooks,
        )

    def _check_budget(self) -> None:
        """The chunk budget must fit the embedder's window (loads the model, once)."""
        if self._budget_checked:
            return
        limit = self.embedder.max_tokens
        if limit is not None and self.max_tokens > limit:
            raise ConfigurationError(
                f"chunking.max_tokens is {self.max_tokens}, over the embedder's window of"
                f" {limit} tokens: chunks would be cut",
                hint=f"set RAGSTEAD_CHUNKING__MAX_TOKENS to {limit} or less",
            )
        self._budget_checked = True

    def _chunk_options(self) -> tuple[ChunkOptions, int]:
        """Options for the parse workers, and how many (0 when the counter cannot travel)."""
        counter = self.embedder.token_counter()
        if counter is None:
            counter = self.embedder.count_tokens
            try:
                pickle.dumps(counter)
            except Exception:
                return ChunkOptions(counter, self.max_tokens, self.min_tokens), 0
        return ChunkOptions(counter, self.max_tokens, self.min_tokens), self.workers

    def _parse_and_index(
        self, plan: Plan, writer: IndexWriter, report: IngestReport, tracker: _Tracker
    ) -> None:
        options, workers = self._chunk_options()
        pool = ParsePool(
            options,
            workers=workers,
            timeout_s=self.parse_timeout_s,
            nice=self.worker_nice,
            prefetch=max(16, 4 * workers),
        )
        results = pool.start(plan.tasks)
        try:
            for result in results:
                self._handle(result, plan.jobs[result.path], writer, report)
                tracker.file_done(result.path, result.pages)
                if pool.backlog() == 0 and writer.pending_chunks >= _EARLY_FLUSH:
                    writer.flush()
        finally:
            results.close()

    # -- one file -------------------------------------------------------------------------------

    def _handle(
        self, result: FileResult, job: Job, writer: IndexWriter, report: IngestReport
    ) -> None:
        source, previous = result.path, job.record
        report.parse_seconds += result.seconds
        if result.error is None and result.unchanged and previous is not None:
            self.manifest.touch(previous.doc_id, result.size, result.mtime)
            report.unchanged.append(source)
            return
        warnings = [w for doc in result.documents for w in doc.warnings]
        report.warnings.extend((source, w) for w in warnings)
        error = result.error
        if error is None and not any(doc.drafts for doc in result.documents):
            error = "no text could be extracted" + (
                f" ({'; '.join(warnings[:3])})" if warnings else ""
            )
        if error is not None:
            failed = DocumentRecord(
                doc_id=doc_id_for(source),
                source=source,
                size=result.size,
                mtime=result.mtime,
                content_hash=result.content_hash,
                doc_type=Path(source).suffix.lower().lstrip("."),
                groups=job.groups,
                metadata={"origin": "file"},
            )
            kept = "; its previous version stays indexed" if previous and previous.n_chunks else ""
            self.manifest.mark_failed(failed, error + kept)
            report.failed.append((source, error))
            return
        family = self._families().from_result(result, job)
        writer.add(family)
        report.chunks += family.n_chunks
        report.pages += result.pages
        (report.updated if previous is not None and previous.n_chunks else report.added).append(
            source
        )

    def _reuse(self, reuse: Reuse, writer: IndexWriter, report: IngestReport) -> None:
        """Index a copy, a move or a regrouped file from chunks and vectors already stored."""
        family = self._families().from_stored(reuse)
        writer.add(family)
        new_source = str(reuse.job.path)
        report.chunks += family.n_chunks
        report.reused_chunks += len(family.vectors)
        if reuse.rename:
            report.renamed.append((reuse.source.source, new_source))
        elif reuse.job.record is not None:
            report.updated.append(new_source)
        else:
            report.added.append(new_source)

    def _families(self) -> FamilyBuilder:
        return FamilyBuilder(self.catalog, self.store, self.index_config)

    # -- documents that are not files -------------------------------------------------------------

    def index_document(self, record: DocumentRecord, parsed: ParsedDocument) -> int:
        """Chunk, embed and swap in one document and its children; returns chunks written."""
        return self.index_documents([(record, parsed)])

    def index_documents(self, items: Iterable[tuple[DocumentRecord, ParsedDocument]]) -> int:
        """Batched :meth:`index_document`: embedding spans documents, each swaps in atomically."""
        with self.catalog.ingest_lock():
            writer = self._writer()
            for record, parsed in items:
                docs = list(self._parsed_docs(record, parsed))
                existing = self._exists(record.doc_id)
                writer.add(Family(docs, obsolete=self._families().obsolete(existing, docs)))
            writer.flush()
            return writer.written

    def _exists(self, doc_id: str) -> DocumentRecord | None:
        try:
            return self.catalog.get_document(doc_id)
        except NotFoundError:
            return None

    def _parsed_docs(
        self, record: DocumentRecord, parsed: ParsedDocument
    ) -> Iterable[tuple[DocumentRecord, list[Any]]]:
        record.title = document_title(parsed.title, Path(record.source).stem)
        record.metadata = {**record.metadata, **parsed.metadata, "warnings": parsed.warnings}
        record.metadata["profile"] = build_profile(
            record.title, Path(record.source).name, first_page_text(parsed.elements)
        )
        drafts = chunk_elements(
            parsed.elements,
            title=record.title,
            count_tokens=self.embedder.count_tokens,
            max_tokens=self.max_tokens,
            min_tokens=self.min_tokens,
        )
        yield record, make_chunks(record, drafts)
        for name, child in parsed.children:
            child_source = f"{record.source}#{name}"
            child_record = DocumentRecord(
                doc_id=doc_id_for(child_source),
                source=child_source,
                mtime=record.mtime,
                content_hash=record.content_hash,
                doc_type=Path(name).suffix.lower().lstrip("."),
                groups=record.groups,
                parent_id=record.doc_id,
            )
            yield from self._parsed_docs(child_record, child)

    # -- deleting -------------------------------------------------------------------------------

    def delete(self, doc_id: str) -> list[str]:
        """Remove a document, its attachments and their vectors; returns the sources removed."""
        with self.catalog.ingest_lock():
            record = self.catalog.get_document(doc_id)
            docs = [record, *self._families().descendants(doc_id)]
            self._writer().delete([d.doc_id for d in docs])
        return [d.source for d in docs]

    def relabel(
        self,
        doc_id: str,
        *,
        groups: Sequence[str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> DocumentRecord:
        """New access groups or labels for a document and its attachments, without parsing or
        embedding again (its stored chunks and vectors move to the new version)."""
        with self.catalog.ingest_lock():
            record = self.catalog.get_document(doc_id)
            if record.parent_id is not None:
                raise InvalidRequestError(
                    "an attachment has the groups and labels of the file it came in",
                    hint=f"change document {record.parent_id} instead",
                )
            if record.status != "indexed":
                raise InvalidRequestError(
                    f"document {doc_id} is {record.status}, not indexed",
                    hint="ingest it again once it parses",
                )
            new_groups = record.groups if groups is None else tuple(dict.fromkeys(groups))
            job = Job(Path(record.source), new_groups, record)
            reuse = Reuse(job, record, record.size, record.mtime, record.content_hash)
            writer = self._writer()
            writer.add(self._families().from_stored(reuse, labels=labels))
            writer.flush()
            return self.catalog.get_document(doc_id)
