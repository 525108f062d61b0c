"""The Chroma store's sentence vectors ("parts"): stored, searched, fetched and removed with
their chunk; and the retriever's use of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.chunk_vectors import embed_chunks, sentence_texts
from rag.retriever import Retriever
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import ChromaStore
from rag.testing import HashingEmbedder
from rag.types import Chunk


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture()
def store(tmp_path: Path) -> ChromaStore:
    return ChromaStore.local(tmp_path / "chroma", collection="tst")


def test_parts_are_searched_by_best_sentence_and_go_with_their_chunk(store: ChromaStore) -> None:
    chunk_vectors = np.stack([_unit(1, 0, 0), _unit(0, 1, 0)])
    parts = [np.stack([_unit(0, 0, 1), _unit(1, 1, 0)]), np.stack([_unit(0, 1, 1)])]
    metas = [{"doc_id": "a", "doc_type": "md"}, {"doc_id": "b", "doc_type": "pdf"}]
    store.upsert(["a-0", "b-0"], chunk_vectors, metas, parts)
    assert store.parts_collection.count() == 3

    # the best sentence counts, each chunk once, best first
    hits = store.query_parts(_unit(0, 0, 1), 5)
    assert [cid for cid, _ in hits] == ["a-0", "b-0"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[1][1] == pytest.approx(float(_unit(0, 1, 1) @ _unit(0, 0, 1)), abs=1e-5)
    assert [cid for cid, _ in store.query_parts(_unit(0, 0, 1), 1)] == ["a-0"]
    # sentences carry their chunk's metadata, so filters apply to them
    assert [cid for cid, _ in store.query_parts(_unit(0, 0, 1), 5, {"doc_type": "pdf"})] == ["b-0"]

    fetched = store.get_parts(["a-0", "unknown"])
    assert list(fetched) == ["a-0"]
    np.testing.assert_allclose(fetched["a-0"], parts[0], atol=1e-6)  # in sentence order

    store.delete(["a-0"])
    assert store.count() == 1 and store.parts_collection.count() == 1
    assert [cid for cid, _ in store.query_parts(_unit(0, 0, 1), 5)] == ["b-0"]


def test_a_store_without_parts_answers_with_no_sentence_hits(store: ChromaStore) -> None:
    store.upsert(["a-0"], np.stack([_unit(1, 0)]), [{"doc_id": "a"}])
    assert store.query_parts(_unit(1, 0), 5) == []
    assert store.get_parts(["a-0"]) == {}
    store.delete(["a-0"])
    assert store.count() == 0


def test_embed_chunks_gives_each_chunk_its_sentence_vectors() -> None:
    embedder = HashingEmbedder(dim=32)
    chunks = [
        Chunk(
            id="c0", doc_id="d", text="Parking is free. Badges are blue.", source="/d", title="T"
        ),
        Chunk(id="c1", doc_id="d", text="Only one sentence here.", source="/d"),
        Chunk(id="c2", doc_id="d", text="Short. Tiny.", source="/d"),
    ]
    assert sentence_texts(chunks[0]) == ["Parking is free.", "Badges are blue."]
    assert sentence_texts(chunks[1]) == []  # it would repeat the chunk's own vector
    assert sentence_texts(chunks[2]) == []  # too short to match on their own
    vectors, parts = embed_chunks(embedder, chunks)
    assert parts is not None and [len(p) for p in parts] == [2, 0, 0]
    np.testing.assert_allclose(vectors, embedder.embed_batch([c.embed_text() for c in chunks]))
    np.testing.assert_allclose(parts[0], embedder.embed_batch(sentence_texts(chunks[0])))
    assert embed_chunks(embedder, chunks, sentences=False)[1] is None


def test_a_chunk_found_only_through_one_sentence_is_retrieved_densely(tmp_path: Path) -> None:
    embedder = HashingEmbedder(dim=256)
    store = ChromaStore.local(tmp_path / "chroma")
    catalog = Catalog(tmp_path / "i.sqlite3")
    filler = " ".join(f"Clause {i} concerns unrelated matters of procurement." for i in range(2))
    chunks = [
        Chunk(
            id="d-0",
            doc_id="d",
            text=f"{filler} Visitors park in bay nine.",
            source="/d.md",
            chunk_index=0,
        ),
        Chunk(id="e-0", doc_id="e", text="Visitors enjoy the lobby.", source="/e.md"),
        Chunk(id="f-0", doc_id="f", text="Lunch served daily. Tea served hourly.", source="/f.md"),
    ]
    for c in chunks:
        catalog.replace_document(DocumentRecord(doc_id=c.doc_id, source=c.source), [c])
    vectors, parts = embed_chunks(embedder, chunks)
    store.upsert([c.id for c in chunks], vectors, [c.metadata() for c in chunks], parts)
    retriever = Retriever(embedder, store, catalog)
    question = "Visitors park in bay nine."
    by_chunk = [cid for cid, _ in retriever.dense(question, 3)]
    assert by_chunk == ["e-0", "d-0", "f-0"]  # the long chunk's own vector is diluted
    assert next(p.chunk.id for p in retriever.search(question, 3, method="dense")) == "d-0"
    assert next(p.chunk.id for p in retriever.search(question, 3)) == "d-0"
    retriever.params.sentence_weight = 0.0
    assert next(p.chunk.id for p in retriever.search(question, 3, method="dense")) == "e-0"
