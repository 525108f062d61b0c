"""Chunk and sentence vectors from one forward pass (``rag.embedders.span_pooling``), with the
real embedded MiniLM, and what ``embed_chunks`` sends to an embedder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.chunk_vectors import embed_chunks, sentence_spans_of, sentence_texts
from rag.embedders import SentenceTransformerEmbedder
from rag.testing import HashingEmbedder
from rag.types import Chunk

LEAVE = "Full-time staff get 28 days of annual leave each year."
VPN = "Laptops connect through the VPN on every public network."
LUNCH = "The canteen serves lunch from noon until two o'clock."


class RecordingEmbedder(HashingEmbedder):
    """The hashing fake, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen: list[str] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super().embed_batch(texts)


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(dtype="float32", sentence_pooling="chunk")


def test_sentence_spans_point_into_the_embedded_text() -> None:
    chunk = Chunk(id="c", doc_id="d", text=f"{LEAVE} {VPN}", source="/d", title="Handbook")
    embedded = chunk.embed_text()
    assert embedded.startswith("Handbook\n")
    assert [embedded[s:e] for s, e in sentence_spans_of(chunk)] == [LEAVE, VPN]
    assert sentence_texts(chunk) == [LEAVE, VPN]


def test_identical_chunks_are_embedded_once() -> None:
    embedder = RecordingEmbedder()
    twin = {"doc_id": "d", "text": f"{LEAVE} {VPN}", "source": "/d"}
    other = Chunk(id="c", doc_id="e", text=LUNCH, source="/e")
    chunks = [Chunk(id="a", **twin), Chunk(id="b", **twin), other]
    vectors, parts = embed_chunks(embedder, chunks)
    assert embedder.seen.count(f"{LEAVE} {VPN}") == 1 and embedder.seen.count(LEAVE) == 1
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert parts is not None and [len(p) for p in parts] == [2, 2, 0]
    np.testing.assert_array_equal(parts[0], parts[1])
    embedder.seen.clear()
    embed_chunks(embedder, chunks, sentences=False)
    assert sorted(embedder.seen) == sorted({c.embed_text() for c in chunks})


def test_one_pass_gives_the_chunk_vector_and_sentence_vectors_in_context(
    minilm: SentenceTransformerEmbedder,
) -> None:
    chunk = Chunk(id="c", doc_id="d", text=f"{LEAVE} {VPN} {LUNCH}", source="/d", title="Staff")
    vectors, parts = embed_chunks(minilm, [chunk])
    assert parts is not None and parts[0].shape == (3, 384)
    # the chunk vector is exactly the model's own
    assert float(vectors[0] @ minilm.embed_batch([chunk.embed_text()])[0]) > 0.9999
    np.testing.assert_allclose(np.linalg.norm(parts[0], axis=1), 1.0, atol=1e-5)
    own = minilm.embed_batch([LEAVE, VPN, LUNCH])
    sims = parts[0] @ own.T
    assert list(sims.argmax(axis=1)) == [0, 1, 2]  # each is nearest its own sentence
    assert sims.diagonal().min() > 0.6
    separate = SentenceTransformerEmbedder(dtype="float32", sentence_pooling="separate")
    _, apart = embed_chunks(separate, [chunk])
    assert apart is not None
    np.testing.assert_allclose(apart[0], own, atol=1e-5)  # the other mode: a pass each


def test_a_sentence_cut_off_by_truncation_is_embedded_on_its_own(
    minilm: SentenceTransformerEmbedder,
) -> None:
    filler = " ".join(["Procurement rules apply to every purchase order."] * 40)  # > 256 tokens
    text = f"{filler} {LUNCH}"
    start = text.index(LUNCH)
    _, parts = minilm.embed_spans([text], [[(0, 48), (start, start + len(LUNCH))]])
    assert parts[0].shape == (2, 384)
    alone = minilm.embed_batch([LUNCH])[0]
    assert float(parts[0][1] @ alone) > 0.9999  # past the window: its own pass
    assert float(parts[0][0] @ alone) < 0.9


def test_repeated_sentences_are_embedded_once_when_embedded_separately() -> None:
    embedder = RecordingEmbedder()
    header = "Region | Revenue | Margin | Year"
    rows = [f"{header}\nNorth | {n} million | 12 percent | 2023" for n in (10, 20)]
    chunks = [Chunk(id=f"t{i}", doc_id="d", text=t, source="/d") for i, t in enumerate(rows)]
    _, parts = embed_chunks(embedder, chunks)
    assert embedder.seen.count(header) == 1  # a repeated table header: one vector, reused
    assert parts is not None and [len(p) for p in parts] == [2, 2]
    np.testing.assert_array_equal(parts[0][0], parts[1][0])


def test_only_pooled_sentence_vectors_change_the_index_key(tmp_path: Path) -> None:
    from ingest.pipeline import Ingestor
    from rag.stores.catalog import Catalog
    from rag.testing import MemoryVectorStore

    catalog = Catalog(tmp_path / "index.sqlite3")

    def key(pooling: str) -> dict[str, object]:
        embedder = SentenceTransformerEmbedder(sentence_pooling=pooling)
        return Ingestor(embedder, MemoryVectorStore(), catalog).index_config

    # indexes made before the setting (a pass per sentence) keep their key: no re-embedding
    assert "sentence_pooling" not in key("separate")
    assert key("chunk")["sentence_pooling"] == "chunk"  # switching re-embeds every file
    assert key("sentences")["sentence_pooling"] == "sentences"


def test_sentences_pooling_embeds_pieces_once_and_pools_the_chunk() -> None:
    from rag.embedders.base import cover

    embedder = SentenceTransformerEmbedder(dtype="float32", sentence_pooling="sentences")
    short = "See HR."  # too short for a vector of its own, still part of the chunk's vector
    chunks = [
        Chunk(id="a", doc_id="d", text=f"{LEAVE} {short} {VPN}", source="/d", title="Handbook"),
        Chunk(id="b", doc_id="e", text=LUNCH, source="/e"),
    ]
    vectors, parts = embed_chunks(embedder, chunks)
    assert parts is not None and [len(p) for p in parts] == [2, 0]
    # the sentence vectors are exactly the sentences embedded alone
    np.testing.assert_allclose(parts[0], embedder.embed_batch([LEAVE, VPN]), atol=1e-5)
    # the chunk's vector: its pieces (title, sentences, the short one) weighted by tokens
    pieces = cover(chunks[0].embed_text(), sentence_spans_of(chunks[0]))
    assert pieces == ["Handbook", LEAVE, short, VPN]
    weights = np.array([embedder.count_tokens(p) for p in pieces], dtype=np.float32)
    pooled = weights @ embedder.embed_batch(pieces)
    np.testing.assert_allclose(vectors[0], pooled / np.linalg.norm(pooled), atol=1e-5)
    # close to the chunk read whole, and a chunk of one sentence is embedded whole
    assert float(vectors[0] @ embedder.embed_batch([chunks[0].embed_text()])[0]) > 0.8
    np.testing.assert_allclose(vectors[1], embedder.embed_batch([LUNCH])[0], atol=1e-5)
