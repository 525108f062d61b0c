"""Crashes and interruptions: a killed run, a failure between the two stores, large deletes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.elements import Element, ParsedDocument
from ingest.manifest import Manifest
from ingest.service import build_ingestor
from rag.chunk_vectors import sentence_texts
from rag.stores.catalog import DocumentRecord
from tests.conftest import ROOT
from tests.ingest.test_sync import assert_consistent, hashing_container

CHILD = """
import sys, time
from pathlib import Path
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.testing import HashingEmbedder


class SlowEmbedder(HashingEmbedder):
    def token_counter(self):
        return HashingEmbedder().count_tokens  # importable in the parse workers

    def embed_batch(self, texts):
        time.sleep(0.15)
        return super().embed_batch(texts)


settings = Settings(data_dir=Path(sys.argv[2]), ingest=IngestSettings(workers=1, embed_batch=3))
container = Container(settings, embedder=SlowEmbedder(dim=64))
build_ingestor(container).ingest(Path(sys.argv[1]), progress=lambda p: print(p.chunks, flush=True))
print("finished", flush=True)
"""


def _corpus(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        paragraphs = [f"Document {i} paragraph {j} about topic {i * 7 + j}." for j in range(3)]
        text = "\n\n".join(f"## Part {j}\n\n{p}" for j, p in enumerate(paragraphs))
        (folder / f"doc{i:02d}.md").write_text(f"# Doc {i}\n\n{text}\n")
    return folder


def test_a_killed_run_then_a_rerun_leaves_both_stores_consistent(tmp_path: Path) -> None:
    docs = _corpus(tmp_path / "docs", 30)
    data = tmp_path / "data"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(docs), str(data)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    assert child.stdout is not None
    for line in child.stdout:  # wait until some batches are written, then kill -9 mid-run
        if line.strip().isdigit() and int(line) >= 12:
            break
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    container = hashing_container(tmp_path)  # same data directory: tmp_path / "data"
    indexed_before = {d.source for d in container.catalog.documents()}
    assert 0 < len(indexed_before) < 30  # it really stopped half-way
    report = build_ingestor(container).ingest(docs)
    assert report.ok and len(report.unchanged) == len(indexed_before)
    assert len(report.added) + len(report.updated) == 30 - len(indexed_before)
    assert len(container.catalog.documents()) == 30
    assert_consistent(container)


class _FailingCatalog:
    """A catalog whose swap fails, as if the process died between the two stores."""

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def replace_document(self, *args: object) -> None:
        raise KeyboardInterrupt("killed between the vector write and the catalog swap")


def test_a_crash_between_the_stores_shows_the_old_version_and_recovery_cleans_up(
    tmp_path: Path,
) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(note)
    old_ids = container.catalog.all_chunk_ids()

    note.write_text("# Parking\n\nThe visitor car park has 30 spaces.\n")
    ingestor.catalog = _FailingCatalog(container.catalog)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        ingestor.ingest(note)
    # The new vectors were written, but the catalog still serves the old version alone.
    assert container.catalog.all_chunk_ids() == old_ids
    assert container.vector_store.count() == 2
    manifest = Manifest(container.catalog)
    assert manifest.journal_size() == 2

    ingestor.catalog = container.catalog
    assert ingestor.recover() == 1  # the orphan vector of the version never swapped in
    assert_consistent(container)
    report = ingestor.ingest(note)
    assert report.updated == [str(note.resolve())]
    [chunk] = [
        c for d in container.catalog.documents() for c in container.catalog.chunks_of(d.doc_id)
    ]
    assert "30 spaces" in chunk.text
    assert_consistent(container)


def test_index_document_swaps_one_document_and_returns_its_chunks(tmp_path: Path) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    record = DocumentRecord(doc_id="r1", source="corpus.jsonl#1", content_hash="v1")
    parsed = ParsedDocument([Element("Aspirin lowers fever."), Element("It thins blood.")])
    assert ingestor.index_document(record, parsed) == 1
    record2 = DocumentRecord(doc_id="r1", source="corpus.jsonl#1", content_hash="v2")
    parsed2 = ParsedDocument([Element("Ibuprofen lowers fever.")], title="NSAIDs")
    assert ingestor.index_document(record2, parsed2) == 1
    [chunk] = container.catalog.chunks_of("r1")
    assert (chunk.text, chunk.title) == ("Ibuprofen lowers fever.", "NSAIDs")
    assert_consistent(container)

    many = [
        (
            DocumentRecord(doc_id=f"b{i}", source=f"corpus.jsonl#b{i}", content_hash="v"),
            ParsedDocument([Element(f"Record {i} text.")], title=f"R{i}"),
        )
        for i in range(10)
    ]
    assert ingestor.index_documents(many) == 10
    assert container.catalog.chunk_count() == 11
    assert_consistent(container)


def test_deleting_a_thousand_chunk_document_removes_every_vector(tmp_path: Path) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    elements = [
        Element(f"Clause {i}: " + " ".join(f"term{j}" for j in range(50)), section=(f"§{i}",))
        for i in range(1000)
    ]
    record = DocumentRecord(doc_id="big", source="contract.txt", content_hash="h")
    assert ingestor.index_document(record, ParsedDocument(elements, title="Contract")) == 1000
    small = DocumentRecord(doc_id="small", source="note.txt", content_hash="h")
    ingestor.index_document(small, ParsedDocument([Element("A note.")]))
    assert ingestor.delete("big") == ["contract.txt"]
    assert container.catalog.chunk_count() == container.vector_store.count() == 1
    assert_consistent(container)


CRASH_AT_UPSERT = """
import os, sys
from pathlib import Path
from ingest.pipeline import Ingestor
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.testing import HashingEmbedder


class ExitOnUpsert:
    '''The real store, except that the process dies (as on SIGKILL) at its first vector write.'''

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def upsert(self, *args, **kwargs):
        os._exit(3)


settings = Settings(data_dir=Path(sys.argv[2]), ingest=IngestSettings(workers=0))
container = Container(settings, embedder=HashingEmbedder(dim=64))
docs = Path(sys.argv[1])
assert build_ingestor(container).ingest(docs).ok
store = ExitOnUpsert(container.vector_store)
Ingestor(container.embedder, store, container.catalog, workers=0).ingest(docs, force=True)
print("not reached", flush=True)
"""


def test_a_crash_in_a_forced_reindex_loses_no_vector(tmp_path: Path) -> None:
    """A re-index keeps the chunk ids of unchanged text: they are overwritten, never deleted
    first, so a process killed before its first vector write leaves every live chunk with its
    vectors, and the next sync finds nothing missing."""
    docs = _corpus(tmp_path / "docs", 3)
    script = tmp_path / "child.py"
    script.write_text(CRASH_AT_UPSERT)
    child = subprocess.run(
        [sys.executable, str(script), str(docs), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert child.returncode == 3, child.stderr[-2000:]

    container = hashing_container(tmp_path)
    live = container.catalog.all_chunk_ids()
    assert len(live) >= 3
    assert set(container.vector_store.get_vectors(sorted(live))) == live  # before any repair
    report = build_ingestor(container).sync(docs)
    assert report.ok
    assert container.catalog.all_chunk_ids() == live
    assert_consistent(container)


def test_recovery_reindexes_documents_whose_kept_ids_were_being_rewritten(
    tmp_path: Path,
) -> None:
    """Killed after the kept ids got their new vectors but before the catalog swap: the live
    chunks hold vectors of the other version, so recovery marks the file changed and the next
    run re-indexes it (the catalog and the vectors agree again)."""
    note = tmp_path / "note.md"
    note.write_text("# Parking\n\nThe visitor car park has 12 spaces. Badges at desk B.\n")
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(note)
    ingestor.catalog = _FailingCatalog(container.catalog)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        ingestor.ingest(note, force=True)
    ingestor.catalog = container.catalog
    ingestor.recover()
    record = container.catalog.find_by_source(str(note.resolve()))
    assert record is not None and record.content_hash == ""  # marked to be parsed again
    report = ingestor.ingest(note)
    assert report.updated == [str(note.resolve())]
    assert_consistent(container)


def test_a_kept_id_with_other_text_keeps_no_sentence_vector_of_the_old_text(
    tmp_path: Path,
) -> None:
    sentences = " ".join(f"Rule {i} says that badge {i} opens door {i}." for i in range(12))
    note = tmp_path / "rules.md"
    note.write_text(f"# Rules\n\n{sentences}\n")
    container = hashing_container(tmp_path)
    build_ingestor(container).ingest(note)
    [first] = container.catalog.all_chunk_ids()

    smaller = hashing_container(tmp_path)  # same data directory, smaller chunks: same first id
    smaller.settings.chunking.max_tokens = 40
    smaller.settings.chunking.min_tokens = 0
    build_ingestor(smaller).ingest(note)
    live = smaller.catalog.all_chunk_ids()
    assert first in live and len(live) > 1
    chunk = smaller.catalog.chunks_by_id([first])[first]
    stored = smaller.vector_store.get_parts([first]).get(first)
    expected = len(sentence_texts(chunk))
    assert (0 if stored is None else len(stored)) == expected
    assert_consistent(smaller)
