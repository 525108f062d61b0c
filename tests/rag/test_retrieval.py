"""Hybrid retrieval on a small real index (real embedder, real Chroma, real SQLite): filters
inside both retrievers, access groups, fusion, neighbours, MMR and the reranker seam."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from rag.container import Container
from rag.embedders import SentenceTransformerEmbedder
from rag.filters import Filters, parse_date
from rag.retriever import Retriever
from rag.settings import RetrievalSettings, Settings
from tests.retrieval_corpus import ALL, DOCS, put


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Container:
    c = Container(Settings(data_dir=tmp_path_factory.mktemp("retrieval")))
    for spec in DOCS:
        put(c, spec)
    return c


def docs_of(container: Container, hits: Sequence[tuple[str, float]]) -> set[str]:
    chunks = container.catalog.chunks_by_id([cid for cid, _ in hits])
    return {chunks[cid].doc_id for cid, _ in hits}


CASES: list[tuple[Filters, set[str]]] = [
    (Filters(), ALL),
    (Filters(doc_types=("pdf",)), {"hr", "exec"}),
    (Filters(source="hr/*"), {"hr"}),
    (Filters(source="/docs/handbook/*.md"), {"public", "canteen", "manual"}),
    (Filters(source="*.pdf"), {"hr", "exec"}),
    (Filters(section="Facilities"), {"public", "canteen"}),
    (Filters(section="Facilities > Parking"), {"public"}),
    (Filters(section="Facil"), set()),
    (Filters(date_from=parse_date("2024-01-01")), {"hr", "finance", "exec"}),
    (
        Filters(
            date_from=parse_date("2024-01-01"), date_to=parse_date("2024-12-31", end_of_day=True)
        ),
        {"hr", "finance"},
    ),
    (Filters(tags=("policy",)), {"finance", "exec"}),
    (Filters(tags=("policy", "finance")), {"finance"}),
    (Filters(groups=frozenset()), {"public", "canteen", "manual"}),
    (Filters(groups=frozenset({"hr"})), {"public", "canteen", "manual", "hr"}),
    (Filters(groups=frozenset({"hr", "exec"})), {"public", "canteen", "manual", "hr", "exec"}),
    (Filters(doc_types=("pdf",), groups=frozenset({"hr"})), {"hr"}),
]


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=lambda x: str(x))
def test_dense_search_returns_exactly_the_matching_chunks(
    container: Container, filters: Filters, expected: set[str]
) -> None:
    hits = container.retriever.dense("parking", 100, filters)
    assert docs_of(container, hits) == expected


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=lambda x: str(x))
def test_lexical_search_never_returns_a_non_matching_chunk(
    container: Container, filters: Filters, expected: set[str]
) -> None:
    hits = container.retriever.lexical("parking garage badge lunch", 100, filters)
    found = docs_of(container, hits)
    assert found <= expected
    # every matching document mentions one of the words, so all of them are found
    assert found == expected


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=lambda x: str(x))
def test_hybrid_passages_respect_filters(
    container: Container, filters: Filters, expected: set[str]
) -> None:
    passages = container.retriever.retrieve("parking", top_k=20, filters=filters)
    assert {p.chunk.doc_id for p in passages} == expected


def test_filters_apply_inside_the_search_not_after_it(container: Container) -> None:
    # The best 'parking' chunk overall is the handbook's; asking for one docx chunk must still
    # find the expenses document (a filter applied after a top-1 search would find nothing).
    assert docs_of(container, container.retriever.dense("staff parking garage", 1)) == {"public"}
    only_docx = Filters(doc_types=("docx",))
    assert docs_of(container, container.retriever.dense("staff parking garage", 1, only_docx)) == {
        "finance"
    }
    assert docs_of(
        container, container.retriever.lexical("staff parking garage", 1, only_docx)
    ) == {"finance"}


def test_hybrid_passages_carry_the_fused_score_and_both_ranks(container: Container) -> None:
    [top, *rest] = container.retriever.retrieve("free staff parking north garage", top_k=3)
    assert top.chunk.doc_id == "public"
    assert top.dense_rank == 1 and top.lexical_rank == 1
    assert top.score >= max(p.score for p in rest)
    assert top.dense_score is not None and 0 < top.dense_score <= 1


def test_rrf_fusion_is_available_and_ranks_agreeing_hits_first(container: Container) -> None:
    r = container.retriever
    rrf = Retriever(r.embedder, r.store, r.catalog, RetrievalSettings(fusion="rrf", rrf_k=60))
    [top, *_] = rrf.retrieve("free staff parking north garage", top_k=3)
    assert top.chunk.doc_id == "public"
    assert top.score == pytest.approx(2 / 61)


def test_neighbouring_chunks_widen_a_hit(container: Container) -> None:
    r = container.retriever
    assert r.params.neighbors == 1  # the served default
    bare = Retriever(r.embedder, r.store, r.catalog, RetrievalSettings(neighbors=0))
    wide = Retriever(r.embedder, r.store, r.catalog, RetrievalSettings(neighbors=1))
    manual = Filters(source="*manual.md")
    [plain] = bare.retrieve("Where do I collect my badge?", top_k=1, filters=manual)
    [hit] = wide.retrieve("Where do I collect my badge?", top_k=1, filters=manual)
    assert plain.chunk.text == "Collect your badge from reception on the ground floor."
    assert hit.chunk.id == plain.chunk.id
    assert hit.chunk.text.split("\n") == [
        "Welcome to Northwind. Your first day starts at nine.",
        "Collect your badge from reception on the ground floor.",
        "The badge opens the north garage barrier and the office doors.",
    ]


def test_neighbour_windows_do_not_repeat_text(container: Container) -> None:
    r = container.retriever
    wide = Retriever(r.embedder, r.store, r.catalog, RetrievalSettings(neighbors=1))
    passages = wide.retrieve("badge", top_k=3, filters=Filters(source="*manual.md"))
    lines = [line for p in passages for line in p.chunk.text.split("\n")]
    assert len(lines) == len(set(lines))
    assert len(passages) == 2  # five chunks: two windows of three cover them


def test_mmr_trades_relevance_for_diversity(container: Container) -> None:
    r = container.retriever
    plain = [p.chunk.doc_id for p in r.retrieve("parking", top_k=3)]
    # no neighbour windows: two diverse picks that sit side by side would merge into one
    settings = RetrievalSettings(mmr_lambda=0.0, neighbors=0)
    diverse = Retriever(r.embedder, r.store, r.catalog, settings)
    picked = diverse.retrieve("parking", top_k=3)
    assert len(picked) == 3
    # lambda 0 ignores relevance after the first pick: the set differs from plain top-3
    assert picked[0].chunk.doc_id == plain[0]
    assert [p.chunk.doc_id for p in picked] != plain


class WordCountReranker:
    """Deterministic stand-in for a cross-encoder: counts one word."""

    name = "word-count"

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls = 0

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        self.calls += 1
        return [float(t.lower().count(self.word)) for t in texts]


def test_reranker_seam_reorders_the_fused_candidates(container: Container) -> None:
    r = container.retriever
    reranker = WordCountReranker("board")
    reranked = Retriever(
        r.embedder, r.store, r.catalog, RetrievalSettings(rerank_candidates=10), reranker=reranker
    )
    [top, *_] = reranked.retrieve("staff parking garage", top_k=3)
    assert reranker.calls == 1
    # the reranker reads title, section and text: "board" three times
    assert top.chunk.doc_id == "exec" and top.score == 3.0


def test_unknown_method_is_refused(container: Container) -> None:
    from rag.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError):
        container.retriever.search("parking", 5, method="sparse")  # type: ignore[arg-type]


def test_query_embeddings_are_cached(container: Container) -> None:
    embedder = container.embedder
    embedder.clear_query_cache()
    first = embedder.embed_query("a question asked twice")
    assert embedder.embed_query("a question asked twice") is first


def test_query_vector_equals_the_batch_vector(container: Container) -> None:
    """The one-text fast path must give the vector documents were embedded with."""
    embedder = container.embedder
    embedder.clear_query_cache()
    text = "How many days of annual leave do part-time staff get?"
    query = embedder.embed_query(text)
    batch = embedder.embed_batch([text, "a longer second text pads the batch " * 4])[0]
    assert query.dtype == np.float32 and query.shape == batch.shape
    if getattr(embedder, "document_precision", "") == "int8":  # chosen where the CPU has
        # int8 kernels: documents through the quantized graph, the query in float32
        assert float(query @ batch) > 0.99
        return
    # bfloat16 (chosen where the CPU has it) rounds differently with padding in the batch
    dtype = embedder._key()[2] if isinstance(embedder, SentenceTransformerEmbedder) else ""
    assert float(np.abs(query - batch).max()) < (5e-3 if dtype == "bfloat16" else 1e-4)
    assert float(query @ batch) > 0.9999
