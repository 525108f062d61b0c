"""Sentence vectors ("parts"): how chunks get them, and the retriever's use of them (what a
store does with them is the contract suite's, tests/contracts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.chunk_vectors import embed_chunks, sentence_texts
from rag.retriever import Retriever
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.vector_store import ChromaStore
from rag.testing import HashingEmbedder
from rag.types import Chunk


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


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
