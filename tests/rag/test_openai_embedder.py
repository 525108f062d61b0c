"""The ``openai`` embedder against a real HTTP server on 127.0.0.1 serving the embedded MiniLM:
the same vectors as in-process, batched and concurrent requests, retries, clear errors, and an
ingestion through it that retrieval finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.service import build_ingestor
from rag.container import Container
from rag.embedders import OpenAIEmbedder, SentenceTransformerEmbedder
from rag.errors import ConfigurationError, EmbeddingError
from rag.generators.embedded import embedded_embedder_dir
from rag.settings import Settings
from tests.embedding_server import EmbeddingServer
from tests.serving import free_port

TEXTS = [
    "Annual leave is 28 days for full-time staff.",
    "The VPN must be used on public networks.",
    "Expenses above 2,500 EUR need the CFO's approval.",
    "Probation lasts six months.",
    "Passwords have at least 14 characters.",
    "The office closes at 8 pm on Fridays.",
    "Parental leave is paid for 16 weeks.",
    "Laptops are replaced every four years.",
    "Visitors sign in at the front desk.",
    "Travel is booked through the internal portal.",
]


@pytest.fixture(scope="module")
def local() -> SentenceTransformerEmbedder:
    """The embedded MiniLM in this process, float32 (what the server serves)."""
    return SentenceTransformerEmbedder(dtype="float32")


@pytest.fixture()
def server(local: SentenceTransformerEmbedder) -> Iterator[EmbeddingServer]:
    served = EmbeddingServer(local)
    yield served
    served.close()


def client(server: EmbeddingServer, **options: object) -> OpenAIEmbedder:
    return OpenAIEmbedder(server.base_url, "all-MiniLM-L6-v2", backoff_s=0.01, **options)  # type: ignore[arg-type]


def test_vectors_equal_the_in_process_embedder_in_order_and_batches(
    server: EmbeddingServer, local: SentenceTransformerEmbedder
) -> None:
    embedder = client(server, batch_size=4, concurrency=3)
    vectors = embedder.embed_batch(TEXTS)
    expected = local.embed_batch(TEXTS)
    assert vectors.shape == expected.shape and vectors.dtype == np.float32
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() > 0.999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sizes = sorted(len(r["body"]["input"]) for r in server.requests)
    assert sizes == [2, 4, 4]  # ten texts in requests of at most batch_size
    assert {r["body"]["model"] for r in server.requests} == {"all-MiniLM-L6-v2"}
    assert embedder.dim == 384
    np.testing.assert_allclose(embedder.embed_query(TEXTS[3]), vectors[3], atol=1e-5)


def test_requests_overlap_up_to_the_concurrency_bound(local: SentenceTransformerEmbedder) -> None:
    server = EmbeddingServer(local, gate=2)  # each request waits until two are in flight
    try:
        embedder = client(server, batch_size=1, concurrency=2)
        vectors = embedder.embed_batch(TEXTS[:6])
    finally:
        server.close()
    assert len(server.requests) == 6
    assert server.peak_in_flight == 2  # concurrent, and never more than the bound
    assert (vectors * local.embed_batch(TEXTS[:6])).sum(axis=1).min() > 0.999


def test_busy_and_failing_answers_are_retried(server: EmbeddingServer) -> None:
    server.faults = [503, 429]
    vectors = client(server, max_retries=2).embed_batch(TEXTS[:2])
    assert vectors.shape == (2, 384)
    assert len(server.requests) == 3


def test_a_server_that_keeps_failing_raises_after_its_retries(server: EmbeddingServer) -> None:
    server.faults = [500, 502, 503]
    with pytest.raises(EmbeddingError, match="after 2 attempts: HTTP 502"):
        client(server, max_retries=1).embed_batch(TEXTS[:2])
    assert len(server.requests) == 2


def test_a_slow_server_times_out(local: SentenceTransformerEmbedder) -> None:
    server = EmbeddingServer(local, slow_s=3.0)
    server.faults = ["slow"]
    try:
        with pytest.raises(EmbeddingError, match=r"no answer within 0\.3 s"):
            client(server, timeout_s=0.3, max_retries=0).embed_batch(TEXTS[:1])
    finally:
        server.close()


def test_wrong_key_url_or_port_say_what_to_fix(local: SentenceTransformerEmbedder) -> None:
    server = EmbeddingServer(local, api_key="s3cret")
    try:
        with pytest.raises(ConfigurationError, match="401") as bad_key:
            client(server, max_retries=3).embed_batch(TEXTS[:1])
        assert "api_key" in str(bad_key.value)
        assert len(server.requests) == 1  # not retried
        good = OpenAIEmbedder(server.base_url, "m", api_key="s3cret").embed_batch(TEXTS[:1])
        assert good.shape == (1, 384)
        with pytest.raises(ConfigurationError, match="404"):
            OpenAIEmbedder(server.base_url + "/x", "m", api_key="s3cret").embed_batch(["a"])
    finally:
        server.close()
    closed = OpenAIEmbedder(f"http://127.0.0.1:{free_port()}/v1", "m", max_retries=1, backoff_s=0)
    with pytest.raises(EmbeddingError, match="cannot connect"):
        closed.embed_batch(["a"])
    with pytest.raises(ConfigurationError, match="not an http"):
        OpenAIEmbedder("127.0.0.1:8080", "m")


def test_settings_build_it_and_refuse_it_without_a_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        embedder={"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "minilm"},
    )
    embedder = Container(settings).embedder
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.name == "openai:minilm" and embedder.concurrency == 4
    bare = Settings(data_dir=tmp_path, embedder={"kind": "openai", "model": "minilm"})
    with pytest.raises(ConfigurationError, match="base_url"):
        _ = Container(bare).embedder


def test_documents_ingested_through_the_server_are_found(
    server: EmbeddingServer, local: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.txt").write_text(
        "Leave policy\n\nFull-time staff get 28 days of annual leave. Part-time staff get a"
        " share in proportion to their hours. Unused days lapse at the end of March."
    )
    (docs / "it.txt").write_text(
        "IT security\n\nPasswords have at least 14 characters. The VPN must be used on public"
        " networks. Lost laptops are reported to the service desk within one hour."
    )
    model_dir = embedded_embedder_dir()
    settings = Settings(
        data_dir=tmp_path / "data",
        embedder={
            "kind": "openai",
            "base_url": server.base_url,
            "model": "all-MiniLM-L6-v2",
            "model_dir": model_dir,  # its tokenizer.json: exact chunk budgets
        },
    )
    container = Container(settings)
    report = build_ingestor(container).ingest(docs)
    assert report.ok and sorted(Path(p).name for p in report.added) == ["it.txt", "leave.txt"]
    assert server.requests  # the vectors came from the server
    question = "How many characters must a password have?"
    hits = container.retriever.retrieve(question, top_k=1, method="dense")
    assert Path(hits[0].chunk.source).name == "it.txt"
