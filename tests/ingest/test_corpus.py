"""``ingest.corpus``: one index per corpus and index settings, built once, kept in step.

The embedder is the hashing fake: these checks are about what is stored and when, not about
vector quality (the eval CLI tests run the real model over the same corpus).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ingest.corpus import CorpusIndex, open_corpus_index
from rag.settings import Settings
from rag.testing import HashingEmbedder

TINY = Path(__file__).parents[1] / "fixtures" / "beir-tiny" / "corpus.jsonl"


def _open(
    tmp_path: Path, corpus: Path, *, index_dir: Path | None = None, sentence_vectors: bool = True
) -> CorpusIndex:
    """The index of ``corpus``, under ``tmp_path/data/eval`` unless ``index_dir`` is given."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.chunking.sentence_vectors = sentence_vectors
    return open_corpus_index(settings, corpus, index_dir=index_dir, embedder=HashingEmbedder())


def test_records_are_documents_with_their_ids_and_the_index_is_reused(tmp_path: Path) -> None:
    first = _open(tmp_path, TINY)
    assert first.run.added == 6 and not first.run.reused and first.run.builds == 1
    catalog = first.container.catalog
    doc = catalog.get_document("d2")
    assert doc.source == "corpus.jsonl#d2" and doc.title == "Annual leave"
    # Chunk ids as the retrieval figures were measured with: <record id>-<version>-<index>,
    # the version a hash of the record's title, text and chunk settings.
    text = hashlib.sha256(f"{doc.title}\x00".encode() + _record(TINY, "d2")).hexdigest()
    version = hashlib.sha256(f"{text}:200/40/1|".encode()).hexdigest()[:8]
    [chunk] = catalog.chunks_of("d2")
    assert chunk.id == f"d2-{version}-00000"
    assert chunk.text.startswith("Full-time employees receive 28 days")
    assert first.container.vector_store.count() == catalog.chunk_count() == 6

    again = _open(tmp_path, TINY)
    assert again.run.reused and again.run.builds == 1 and again.run.unchanged == 6
    assert again.run.data_dir == first.run.data_dir
    assert again.container.retriever.retrieve("annual leave days", top_k=1)[0].chunk.doc_id == "d2"


def test_other_chunk_settings_get_an_index_of_their_own(tmp_path: Path) -> None:
    default = _open(tmp_path, TINY).run
    other = _open(tmp_path, TINY, sentence_vectors=False).run
    assert other.key != default.key and other.data_dir != default.data_dir
    assert not other.reused and other.added == 6
    assert sorted(p.name for p in (tmp_path / "data" / "eval").iterdir()) == sorted(
        Path(r.data_dir).name for r in (default, other)
    )


def test_a_changed_corpus_updates_its_index_in_place(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    shutil.copy(TINY, corpus)
    index_dir = tmp_path / "idx"
    first = _open(tmp_path, corpus, index_dir=index_dir)
    old_ids = {c.id for c in first.container.catalog.chunks_of("d3")}
    records = [json.loads(line) for line in corpus.read_text().splitlines()]
    records = [r for r in records if r["_id"] != "d6"]  # removed
    records[2]["text"] = "Meals on business trips are reimbursed up to 60 euros a day."  # d3
    records.append({"_id": "d7", "title": "Bicycles", "text": "Bicycles are parked behind it."})
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))

    run = _open(tmp_path, corpus, index_dir=index_dir).run
    assert (run.added, run.updated, run.unchanged, run.removed) == (1, 1, 4, 1)
    assert run.builds == 2 and run.documents == 6
    reopened = _open(tmp_path, corpus, index_dir=index_dir)
    assert reopened.run.reused and reopened.run.builds == 2
    catalog, store = reopened.container.catalog, reopened.container.vector_store
    assert "60 euros" in catalog.chunks_of("d3")[0].text
    assert catalog.find_by_source("corpus.jsonl#d6") is None
    assert store.all_ids() == catalog.all_chunk_ids() and not old_ids & store.all_ids()


def test_a_folder_of_files_is_ingested_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave\n\nEmployees get 28 days of annual leave.\n")
    (folder / "parking.txt").write_text("Staff park for free in the north garage.\n")
    first = _open(tmp_path, folder).run
    assert first.added == 2 and first.builds == 1 and Path(first.data_dir).name.startswith("docs-")
    again = _open(tmp_path, folder).run
    assert again.reused and again.unchanged == 2 and again.builds == 1


def _record(corpus: Path, record_id: str) -> bytes:
    for line in corpus.read_text().splitlines():
        record = json.loads(line)
        if record["_id"] == record_id:
            return str(record["text"]).encode()
    raise KeyError(record_id)
