"""Ingestion end to end with the real embedder and a real Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.service import build_ingestor
from rag.container import Container
from rag.errors import NotFoundError
from rag.settings import Settings
from rag.testing import HashingEmbedder
from tests.conftest import EXAMPLES


def test_examples_are_indexed_with_source_page_and_section(example_container: Container) -> None:
    catalog = example_container.catalog
    names = {Path(d.source).name for d in catalog.documents()}
    assert {
        "leave-policy.md",
        "expenses-policy.docx",
        "it-security.html",
        "onboarding-guide.pdf",
        "price-list.csv",
        "travel-faq.txt",
    } <= names
    pdf = next(d for d in catalog.documents() if d.source.endswith(".pdf"))
    pages = {c.page for c in catalog.chunks_of(pdf.doc_id)}
    assert pages >= {1, 2, 3}
    md = next(d for d in catalog.documents() if d.source.endswith(".md"))
    assert any(c.section for c in catalog.chunks_of(md.doc_id))
    assert example_container.vector_store.count() == catalog.chunk_count()


def test_chunks_fit_the_embedder_window(example_container: Container) -> None:
    embedder = example_container.embedder
    for doc in example_container.catalog.documents():
        for chunk in example_container.catalog.chunks_of(doc.doc_id):
            assert embedder.count_tokens(chunk.embed_text()) <= embedder.max_tokens


def _hashing_container(tmp_path: Path) -> Container:
    return Container(Settings(data_dir=tmp_path / "data"), embedder=HashingEmbedder())


def test_ingesting_twice_keeps_the_chunk_count(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLES, docs)
    container = _hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    first = ingestor.ingest(docs)
    count = container.catalog.chunk_count()
    second = ingestor.ingest(docs)
    assert len(first.added) == 6 and first.chunks == count > 0
    assert second.added == [] and len(second.unchanged) == 6 and second.chunks == 0
    assert container.catalog.chunk_count() == count == container.vector_store.count()


def test_changed_file_replaces_its_chunks(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    note = docs / "note.md"
    note.write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    container = _hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(docs)
    note.write_text("# Parking\n\nThe visitor car park has 30 spaces since May.\n")
    report = ingestor.ingest(docs)
    assert report.updated == [str(note.resolve())]
    texts = [
        c.text for d in container.catalog.documents() for c in container.catalog.chunks_of(d.doc_id)
    ]
    assert any("30 spaces" in t for t in texts) and not any("12 spaces" in t for t in texts)
    assert container.vector_store.count() == container.catalog.chunk_count()


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        build_ingestor(_hashing_container(tmp_path)).ingest(tmp_path / "nope")


def test_unsupported_file_is_reported_not_raised(tmp_path: Path) -> None:
    legacy = tmp_path / "old.doc"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0 legacy word file")
    report = build_ingestor(_hashing_container(tmp_path)).ingest(legacy)
    assert not report.ok
    [(path, reason)] = report.failed
    assert path.endswith("old.doc") and "unsupported" in reason and ".docx" in reason


def test_prune_removes_documents_whose_files_are_gone(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha handbook text about badges.")
    (docs / "b.txt").write_text("Beta handbook text about parking.")
    container = _hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(docs)
    (docs / "b.txt").unlink()
    report = ingestor.ingest(docs, prune=True)
    assert [Path(p).name for p in report.removed] == ["b.txt"]
    assert [Path(d.source).name for d in container.catalog.documents()] == ["a.txt"]
    assert container.vector_store.count() == container.catalog.chunk_count()
