"""``ragstead doctor``: does the index agree with itself, and is the installation sound?

For a collection it compares the three stores: the catalog's live chunks, the chunk vectors,
the sentence vectors (each belongs to a live chunk) and the lexical index (one row per live
chunk), and the ingestion journal. ``repair`` makes them agree: it runs the journal's recovery,
deletes vectors of chunks that are not live, embeds live chunks that have no vector (their
sentence vectors too), and rebuilds the lexical index when it differs. It takes the ingestion
lock, so no ingestion writes meanwhile.

Example::

    report = Doctor(container).check()
    if not report.consistent:
        Doctor(container).repair()
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.manifest import Manifest
from rag.chunk_vectors import embed_chunks
from rag.container import Container

#: free space under which the data directory is reported as short of room.
MIN_FREE_BYTES = 1 << 30


@dataclass
class IndexReport:
    """What the comparison found (ids listed up to a sample of 20)."""

    chunks: int = 0
    vectors: int = 0
    lexical_rows: int = 0
    journal: int = 0
    missing_vectors: list[str] = field(default_factory=list)
    orphan_vectors: list[str] = field(default_factory=list)
    orphan_sentences: list[str] = field(default_factory=list)
    lexical_mismatch: bool = False
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        """Everything agrees."""
        return not (
            self.missing_vectors
            or self.orphan_vectors
            or self.orphan_sentences
            or self.lexical_mismatch
            or self.journal
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (id lists cut to 20)."""
        data = asdict(self)
        for key in ("missing_vectors", "orphan_vectors", "orphan_sentences"):
            data[f"{key}_count"] = len(data[key])
            data[key] = data[key][:20]
        data["consistent"] = self.consistent
        return data


class Doctor:
    """Checks and repairs one collection's index."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.catalog = container.catalog
        self.store = container.vector_store
        self.manifest = Manifest(self.catalog)

    def check(self) -> IndexReport:
        """Compare the stores; changes nothing."""
        live = self.catalog.all_chunk_ids()
        vectors = self.store.all_ids()
        sentences = self.store.part_chunk_ids()
        lexical = self.catalog.lexical.count()
        return IndexReport(
            chunks=len(live),
            vectors=len(vectors),
            lexical_rows=lexical,
            journal=self.manifest.journal_size(),
            missing_vectors=sorted(live - vectors),
            orphan_vectors=sorted(vectors - live),
            orphan_sentences=sorted(sentences - live),
            lexical_mismatch=lexical != len(live) or not self._lexical_covers(live),
        )

    def _lexical_covers(self, live: set[str]) -> bool:
        return self.catalog.lexical.indexed_ids() == live

    def repair(self) -> IndexReport:
        """Make the stores agree; returns the check after the repair, with what was done."""
        with self.catalog.ingest_lock():
            done: dict[str, int] = {"journal_orphans": self.manifest.recover(self.store)}
            report = self.check()
            stale = sorted(set(report.orphan_vectors) | set(report.orphan_sentences))
            if stale:
                self.store.delete(stale)
            done["orphans_deleted"] = len(stale)
            done["chunks_embedded"] = self._embed(report.missing_vectors)
            if report.lexical_mismatch:
                self._rebuild_lexical()
                done["lexical_rebuilt"] = 1
            after = self.check()
            after.repaired = done
            return after

    def _rebuild_lexical(self) -> None:
        """Index every live chunk again, and nothing else (one transaction)."""
        with self.catalog.atomic():
            self.catalog.lexical.clear()
            for doc in self.catalog.documents():
                self.catalog.lexical.add(self.catalog.chunks_of(doc.doc_id))

    def _embed(self, chunk_ids: list[str], batch: int = 256) -> int:
        sentences = self.container.settings.chunking.sentence_vectors
        written = 0
        for start in range(0, len(chunk_ids), batch):
            chunks = list(self.catalog.chunks_by_id(chunk_ids[start : start + batch]).values())
            if not chunks:
                continue
            vectors, parts = embed_chunks(self.container.embedder, chunks, sentences=sentences)
            self.store.upsert(
                [c.id for c in chunks], vectors, [c.metadata() for c in chunks], parts
            )
            written += len(chunks)
        return written


def installation(container: Container) -> dict[str, Any]:
    """Installation checks: models present, data directory writable, free space, versions."""
    from importlib.metadata import PackageNotFoundError, version

    from rag.generators.embedded import embedded_embedder_dir, embedded_generator_gguf

    checks: dict[str, Any] = {}
    for name, find in (
        ("embedder_model", embedded_embedder_dir),
        ("generator_model", embedded_generator_gguf),
    ):
        try:
            checks[name] = {"ok": find().exists(), "path": str(find())}
        except Exception as exc:  # a missing package is a finding, not a crash
            checks[name] = {"ok": False, "error": str(exc)}
    data_dir = container.settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    probe = data_dir / ".doctor-write-test"
    try:
        probe.write_text("ok")
        probe.unlink()
        checks["data_dir_writable"] = {"ok": True, "path": str(data_dir)}
    except OSError as exc:
        checks["data_dir_writable"] = {"ok": False, "error": str(exc)}
    free = shutil.disk_usage(data_dir).free
    checks["disk_free"] = {"ok": free >= MIN_FREE_BYTES, "bytes": free}
    versions: dict[str, str | None] = {}
    for package in (
        "ragstead",
        "chromadb",
        "torch",
        "transformers",
        "sentence-transformers",
        "fastapi",
    ):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    checks["versions"] = versions
    return checks
