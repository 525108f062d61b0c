"""Index an evaluation corpus once, into a data directory of its own, and reopen it later.

A corpus is a JSON-lines file of records (the BEIR layout: ``{"_id", "title", "text"}`` and any
other fields as metadata; COVID-QA, SciFact) or a file or folder of documents (the SEC 10-Q
PDFs). Each record becomes one document: doc id = the record's id, source
``<corpus file name>#<id>``, one text element per paragraph (blank-line separated), chunked to
the settings' budget with the record's title. Files go through the :class:`Ingestor`.
Both write through the same journalled :class:`IndexWriter`.

The directory is ``<data dir>/eval/<corpus>-<key>`` (or the one given), the key a hash of the
corpus (the records file's bytes; a folder's path) and of the settings that change what is
stored (:func:`index_config`). ``corpus.json`` in it records what was indexed and how many runs
wrote to it (``builds``); a records index whose marker matches is reused without reading a
line, so ``eval retrieval``, ``eval qa``, ``eval answers`` and the benchmarks share one index.

Example::

    index = open_corpus_index(load_settings(), Path("covidqa/corpus.jsonl"))
    index.container.retriever.retrieve("What is the incubation period?")
    index.run.reused        # True from the second opening on
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingest.chunker import chunk_elements
from ingest.elements import Element
from ingest.manifest import Manifest
from ingest.pipeline import index_config as ingestor_index_config
from ingest.service import build_ingestor
from ingest.writer import Family, IndexWriter, make_chunks
from rag.container import Container
from rag.embedders import Embedder, build_embedder
from rag.errors import NotFoundError
from rag.evaluation.datasets import CorpusRecord, file_digest, read_corpus
from rag.settings import Settings
from rag.stores.catalog import DocumentRecord
from rag.types import Chunk

_PARAGRAPH = re.compile(r"\n\s*\n")
MARKER = "corpus.json"


@dataclass
class CorpusIndexRun:
    """What opening a corpus index did (``reused``: it was complete, nothing was read)."""

    corpus: str
    data_dir: str
    key: str
    reused: bool = False
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    #: chunks written by this run.
    written: int = 0
    #: documents and chunks in the index afterwards.
    documents: int = 0
    chunks: int = 0
    #: runs that wrote to this index, this one included.
    builds: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON form (for evaluation reports)."""
        return {**asdict(self), "seconds": round(self.seconds, 1)}

    def summary(self) -> str:
        """One line for a terminal."""
        if self.reused:
            return (
                f"index {self.data_dir}: reused, {self.unchanged} unchanged"
                f" ({self.documents} documents, {self.chunks} chunks)"
            )
        return (
            f"index {self.data_dir}: {self.added} added, {self.updated} updated,"
            f" {self.unchanged} unchanged, {self.removed} removed, {self.failed} failed,"
            f" {self.written} chunks written ({self.documents} documents, {self.chunks} chunks,"
            f" {self.seconds:.0f} s)"
        )


@dataclass
class CorpusIndex:
    """An opened corpus index: the container over its data directory, and what opening did."""

    container: Container
    run: CorpusIndexRun


Progress = Callable[[CorpusIndexRun], None]


def index_config(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """What stored chunks and vectors depend on besides the corpus (as ``Ingestor`` has it)."""
    c = settings.chunking
    return ingestor_index_config(
        embedder,
        max_tokens=c.max_tokens,
        min_tokens=c.min_tokens,
        sentence_vectors=c.sentence_vectors,
    )


def is_records(corpus: Path) -> bool:
    """Whether ``corpus`` is a JSON-lines file of records (else files to ingest)."""
    return corpus.is_file() and corpus.suffix.lower() == ".jsonl"


def corpus_digest(corpus: Path) -> str:
    """What identifies a corpus: a records file's bytes, a folder's (or file's) path."""
    return file_digest(corpus) if is_records(corpus) else str(corpus.resolve())


def index_key(digest: str, config: dict[str, Any]) -> str:
    """The key of an index: the corpus digest and the index settings."""
    raw = json.dumps({"corpus": digest, **config}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def open_corpus_index(
    settings: Settings,
    corpus: Path,
    *,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> CorpusIndex:
    """The index of ``corpus``, built or brought up to date now unless it is complete.

    ``settings.data_dir`` holds the ``eval/`` folder of indexes; converted models stay in its
    model cache, shared by every index. ``embedder`` replaces the one the settings name (a
    test's fake). ``progress`` receives the run while records are written.
    """
    if not corpus.exists():
        raise NotFoundError(
            f"no such corpus: {corpus}",
            hint="give a .jsonl file of records or a folder of documents; the evaluation sets"
            " live in ../shared/data (see its README)",
        )
    embedder = embedder or build_embedder(settings)
    config = index_config(settings, embedder)
    digest = corpus_digest(corpus)
    key = index_key(digest, config)
    data_dir = index_dir or settings.data_dir / "eval" / f"{corpus.stem}-{key}"
    container = Container(
        settings.model_copy(update={"data_dir": data_dir, "model_cache_dir": settings.models_dir}),
        embedder=embedder,
    )
    run = CorpusIndexRun(corpus=str(corpus), data_dir=str(data_dir), key=key)
    marker = _read_marker(data_dir)
    started = time.perf_counter()
    if is_records(corpus):
        done = marker.get("digest") == digest and marker.get("config") == config
        if done:
            run.reused = True
            run.unchanged = int(marker.get("documents", 0))
        else:
            # Records stored under these settings by an earlier (interrupted) run are kept.
            resume = marker.get("config") == config
            _write_marker(data_dir, {**marker, "digest": None, "config": config})
            _index_records(container, corpus, run, resume=resume, progress=progress)
    else:
        _ingest_files(container, corpus, run)
        run.reused = not (run.added or run.updated or run.removed)
    run.builds = int(marker.get("builds", 0)) + (0 if run.reused else 1)
    run.documents = len(container.catalog.documents())
    run.chunks = container.catalog.chunk_count()
    run.seconds = time.perf_counter() - started
    if not run.reused or not marker:
        _write_marker(
            data_dir,
            {
                "corpus": str(corpus),
                "digest": digest,
                "config": config,
                "key": key,
                "documents": run.documents,
                "chunks": run.chunks,
                "builds": run.builds,
            },
        )
    return CorpusIndex(container, run)


# -- records ----------------------------------------------------------------------------------


def record_elements(record: CorpusRecord) -> list[Element]:
    """One text element per paragraph (blank-line separated) of the record's text."""
    return [Element(p.strip()) for p in _PARAGRAPH.split(record.text) if p.strip()]


def record_digest(record: CorpusRecord, settings: Settings) -> str:
    """A record's content hash: its title and text, and the chunk settings (so part of its
    chunk ids: other settings give other ids, and no stale sentence vector survives)."""
    text = hashlib.sha256(f"{record.title}\x00{record.text}".encode()).hexdigest()
    c = settings.chunking
    return f"{text}:{c.max_tokens}/{c.min_tokens}/{int(c.sentence_vectors)}"


def record_chunks(
    record: CorpusRecord, doc: DocumentRecord, settings: Settings, container: Container
) -> list[Chunk]:
    """The chunks of one record."""
    drafts = chunk_elements(
        record_elements(record),
        title=record.title,
        count_tokens=container.embedder.count_tokens,
        max_tokens=settings.chunking.max_tokens,
        min_tokens=settings.chunking.min_tokens,
    )
    return make_chunks(doc, drafts)


def _index_records(
    container: Container,
    corpus: Path,
    run: CorpusIndexRun,
    *,
    resume: bool,
    progress: Progress | None,
) -> None:
    """Write every record of ``corpus`` (skipping those already stored when ``resume``) and
    remove the documents of records no longer in it."""
    settings = container.settings
    catalog = container.catalog
    with catalog.ingest_lock(wait=True):
        manifest = Manifest(catalog)
        manifest.recover(container.vector_store)
        writer = IndexWriter(
            container.embedder,
            container.vector_store,
            catalog,
            manifest,
            batch=settings.ingest.embed_batch,
            sentences=settings.chunking.sentence_vectors,
        )
        prefix = f"{corpus.name}#"
        seen: set[str] = set()
        for record in read_corpus(corpus):
            seen.add(record.id)
            digest = record_digest(record, settings)
            known = catalog.find_by_source(prefix + record.id)
            if resume and known is not None and known.content_hash == digest:
                run.unchanged += 1
                continue
            doc = DocumentRecord(
                doc_id=record.id,
                source=prefix + record.id,
                size=len(record.text),
                content_hash=digest,
                title=record.title,
                doc_type="record",
                metadata={k: str(v) for k, v in record.metadata.items()},
            )
            written = writer.written
            writer.add(Family([(doc, record_chunks(record, doc, settings, container))]))
            if known is None:
                run.added += 1
            else:
                run.updated += 1
            run.written = writer.written
            if progress is not None and run.written > written:
                progress(run)
        writer.flush()
        run.written = writer.written
        gone = _vanished(catalog.documents(), prefix, seen)
        if gone:
            writer.delete(gone)
        run.removed = len(gone)
    if progress is not None:
        progress(run)


def _vanished(docs: Iterable[DocumentRecord], prefix: str, seen: set[str]) -> list[str]:
    return [d.doc_id for d in docs if d.source.startswith(prefix) and d.doc_id not in seen]


# -- files ------------------------------------------------------------------------------------


def _ingest_files(container: Container, corpus: Path, run: CorpusIndexRun) -> None:
    """Bring the index of a file or folder up to date (unchanged files are not read)."""
    report = build_ingestor(container).ingest(corpus, prune=True)
    run.added, run.updated = len(report.added), len(report.updated)
    run.unchanged, run.removed = len(report.unchanged), len(report.removed)
    run.failed, run.written = len(report.failed), report.chunks


# -- the marker -------------------------------------------------------------------------------


def _read_marker(data_dir: Path) -> dict[str, Any]:
    try:
        found = json.loads((data_dir / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_marker(data_dir: Path, marker: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
