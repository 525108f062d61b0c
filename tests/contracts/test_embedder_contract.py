"""The ``Embedder`` contract, run on every implementation: the embedded MiniLM in-process (its
sentence vectors embedded separately, and pooled from the chunk's pass), the ``openai`` client
against an OpenAI-compatible server on 127.0.0.1 serving the same MiniLM, and the hashing fake.
Each gives unit float32 vectors that do not depend on batch company, a query path equal to the
batch path, chunk and sentence vectors through ``embed_spans``, and token counts.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import numpy as np
import pytest

from rag.embedders import Embedder, OpenAIEmbedder, SentenceTransformerEmbedder
from rag.testing import HashingEmbedder
from tests.embedding_server import EmbeddingServer

LEAVE = "Annual leave is 28 days for full-time staff."
VPN = "The VPN must be used on every public network."
CHUNK = f"Staff handbook > Benefits\n{LEAVE} {VPN}"
SPANS = [(CHUNK.index(LEAVE), CHUNK.index(LEAVE) + len(LEAVE)), (CHUNK.index(VPN), len(CHUNK))]
TEXTS = [LEAVE, VPN, "Probation lasts six months.", CHUNK]


@pytest.fixture(scope="module")
def served() -> Iterator[EmbeddingServer]:
    server = EmbeddingServer(SentenceTransformerEmbedder(dtype="float32"))
    yield server
    server.close()


@pytest.fixture(params=["minilm", "minilm-separate", "minilm-chunk-pooling", "openai", "hashing"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    if request.param == "minilm":
        return SentenceTransformerEmbedder()  # sentence_pooling: sentences
    if request.param == "minilm-separate":
        return SentenceTransformerEmbedder(sentence_pooling="separate")
    if request.param == "minilm-chunk-pooling":
        return SentenceTransformerEmbedder(sentence_pooling="chunk")
    if request.param == "openai":
        server = request.getfixturevalue("served")
        return OpenAIEmbedder(server.base_url, "all-MiniLM-L6-v2", batch_size=2, concurrency=2)
    return HashingEmbedder()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=-1))


def test_vectors_are_unit_float32_rows_of_the_stated_dimension(embedder: Embedder) -> None:
    vectors = embedder.embed_batch(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert embedder.embed_batch([]).shape == (0, embedder.dim)


def test_a_text_gets_the_same_vector_alone_in_a_batch_and_as_a_query(embedder: Embedder) -> None:
    batch = embedder.embed_batch(TEXTS)
    alone = np.vstack([embedder.embed_batch([t]) for t in TEXTS])
    assert cosines(batch, alone).min() > 0.99
    assert cosines(embedder.embed_query(VPN), batch[1]) > 0.99
    assert cosines(batch[0], batch[1]) < 0.9  # different texts, different vectors


def test_embed_spans_gives_the_chunk_vector_and_one_vector_per_sentence(
    embedder: Embedder,
) -> None:
    whole, parts = embedder.embed_spans([CHUNK, LEAVE], [SPANS, []])
    assert whole.shape == (2, embedder.dim)
    read_whole = embedder.embed_batch([CHUNK, LEAVE])
    # a chunk read in one pass has its own vector; pooled from its sentences, one near it
    floor = 0.75 if embedder.sentence_pooling == "sentences" else 0.99
    assert cosines(whole, read_whole).min() > floor
    assert cosines(whole[1], read_whole[1]) > 0.99  # one sentence, no spans: embedded whole
    assert parts[0].shape == (2, embedder.dim) and parts[1].shape == (0, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(parts[0], axis=1), 1.0, atol=1e-3)
    own = embedder.embed_batch([LEAVE, VPN])
    # each sentence vector is nearer its own sentence than the other sentence of the chunk
    sims = parts[0] @ own.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_token_counts_grow_with_the_text_and_travel_to_workers(embedder: Embedder) -> None:
    short, long = embedder.count_tokens(LEAVE), embedder.count_tokens(CHUNK)
    assert 0 < short < long
    counter = embedder.token_counter()
    if counter is not None:
        copy = pickle.loads(pickle.dumps(counter))
        assert copy(CHUNK) == long
