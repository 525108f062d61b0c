"""The ``VectorStore`` contract: every implementation gives the same answers.

Run on Chroma in local files, on a ``chroma run`` server on 127.0.0.1 (``store.chroma_host``),
and on the in-memory fake. Filters are checked for congruence: what a store returns under a
``Filters`` is exactly what ``rag.filters.matches`` allows.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from rag.errors import StoreError
from rag.filters import Filters, matches
from rag.stores.vector_store import ChromaStore, VectorStore
from rag.testing import MemoryVectorStore
from rag.types import Chunk

DIM = 8


@pytest.fixture(params=["chroma-local", "chroma-server", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VectorStore:
    if request.param == "chroma-local":
        return ChromaStore.local(tmp_path / "chroma", collection="contract")
    if request.param == "chroma-server":
        host, port = request.getfixturevalue("chroma_server")
        return ChromaStore.server(host, port, collection=f"contract-{uuid.uuid4().hex[:8]}")
    return MemoryVectorStore()


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


CHUNKS = [
    Chunk(id="a-0", doc_id="a", text="", source="/docs/leave.md", doc_type="md",
          section="Benefits > Leave", mtime=100.0),
    Chunk(id="a-1", doc_id="a", text="", source="/docs/leave.md", doc_type="md",
          section="Benefits", mtime=100.0, tags=("policy",)),
    Chunk(id="b-0", doc_id="b", text="", source="/hr/pay.pdf", doc_type="pdf",
          section="Pay", mtime=200.0, groups=("hr",)),
    Chunk(id="c-0", doc_id="c", text="", source="/fin/q1.pdf", doc_type="pdf",
          section="Benefits > Pension", mtime=300.0, groups=("finance", "board"),
          tags=("policy", "q1")),
    Chunk(id="d-0", doc_id="d", text="", source="/docs/it.txt", doc_type="txt", mtime=400.0),
]  # fmt: skip
VECTORS = np.stack([unit(i) for i in range(len(CHUNKS))])

FILTERS = [
    Filters(),
    Filters(doc_types=("pdf",)),
    Filters(groups=frozenset()),
    Filters(groups=frozenset({"hr"})),
    Filters(groups=frozenset({"board", "nobody"})),
    Filters(section="Benefits"),
    Filters(section="Benefits > Leave"),
    Filters(tags=("policy",)),
    Filters(tags=("policy", "q1")),
    Filters(date_from=150.0),
    Filters(date_from=150.0, date_to=300.0),
    Filters(doc_ids=frozenset({"a", "c"})),
    Filters(doc_types=("pdf", "md"), groups=frozenset({"finance"}), date_to=350.0),
]


def fill(store: VectorStore, parts: bool = True) -> None:
    sentence_vectors = [np.stack([unit(100 + i), unit(200 + i)]) for i in range(len(CHUNKS))]
    store.upsert(
        [c.id for c in CHUNKS],
        VECTORS,
        [c.metadata() for c in CHUNKS],
        sentence_vectors if parts else None,
    )


def test_nearest_first_with_cosine_scores(store: VectorStore) -> None:
    fill(store)
    query = VECTORS[2] + 0.1 * VECTORS[0]
    query /= np.linalg.norm(query)
    hits = store.query(query, 3)
    expected = sorted(
        ((c.id, float(v @ query)) for c, v in zip(CHUNKS, VECTORS, strict=True)),
        key=lambda t: t[1],
        reverse=True,
    )[:3]
    assert [cid for cid, _ in hits] == [cid for cid, _ in expected]
    for (_, got), (_, want) in zip(hits, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)
    assert store.count() == len(CHUNKS)
    assert store.all_ids() == {c.id for c in CHUNKS}


def test_upsert_replaces_and_delete_removes_with_parts(store: VectorStore) -> None:
    fill(store)
    store.upsert(["a-0"], VECTORS[3:4], [CHUNKS[0].metadata()], [np.stack([unit(999)])])
    assert store.count() == len(CHUNKS)
    np.testing.assert_allclose(store.get_vectors(["a-0"])["a-0"], VECTORS[3], atol=1e-5)
    assert store.get_parts(["a-0"])["a-0"].shape == (1, DIM)
    store.delete(["a-0", "b-0", "never-stored"])
    assert store.count() == len(CHUNKS) - 2
    assert "a-0" not in {cid for cid, _ in store.query(VECTORS[0], 10)}
    assert "a-0" not in {cid for cid, _ in store.query_parts(unit(999), 10)}
    assert store.get_vectors(["a-0", "c-0"]).keys() == {"c-0"}


def test_parts_find_a_chunk_by_its_best_sentence(store: VectorStore) -> None:
    fill(store)
    hits = store.query_parts(unit(203), 3)  # the second sentence of chunk 3
    assert hits[0][0] == CHUNKS[3].id and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert len({cid for cid, _ in hits}) == len(hits) <= 3  # each chunk once
    fetched = store.get_parts([CHUNKS[3].id, "unknown"])
    assert list(fetched) == [CHUNKS[3].id]
    np.testing.assert_allclose(fetched[CHUNKS[3].id], np.stack([unit(103), unit(203)]), atol=1e-5)


def test_a_store_without_parts_has_no_sentence_hits(store: VectorStore) -> None:
    fill(store, parts=False)
    assert store.query_parts(VECTORS[0], 5) == []
    assert store.get_parts([c.id for c in CHUNKS]) == {}


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f.to_dict()) for f in FILTERS])
def test_filters_allow_exactly_what_matches_allows(store: VectorStore, filters: Filters) -> None:
    fill(store)
    expected = {c.id for c in CHUNKS if matches(filters, c)}
    assert {cid for cid, _ in store.query(VECTORS[0], 50, filters)} == expected
    assert {cid for cid, _ in store.query_parts(VECTORS[0], 50, filters)} == expected


def test_no_allowed_document_means_no_hits(store: VectorStore) -> None:
    fill(store)
    none = Filters(doc_ids=frozenset())
    assert store.query(VECTORS[0], 5, none) == []
    assert store.query_parts(VECTORS[0], 5, none) == []


def test_an_unresolved_source_glob_is_refused(store: VectorStore) -> None:
    fill(store)
    with pytest.raises(StoreError, match="resolved"):
        store.query(VECTORS[0], 5, Filters(source="*.pdf"))


def test_listing_and_dropping(store: VectorStore) -> None:
    fill(store)
    assert store.part_chunk_ids() == {c.id for c in CHUNKS}
    store.delete(["a-0"])
    assert "a-0" not in store.part_chunk_ids()
    store.drop()
    assert store.count() == 0 and store.all_ids() == set() and store.part_chunk_ids() == set()
