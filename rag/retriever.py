"""Hybrid retrieval: dense search in the vector store and BM25 in the catalog, fused by RRF."""

from __future__ import annotations

from dataclasses import dataclass

from rag.embedder import SentenceTransformerEmbedder
from rag.stores.catalog import Catalog
from rag.stores.vector_store import VectorStore
from rag.types import Passage


@dataclass
class RetrievalParams:
    """Candidate counts and the fusion constant."""

    dense_candidates: int = 50
    lexical_candidates: int = 50
    rrf_k: int = 60


class Retriever:
    """Finds the passages that answer a question."""

    def __init__(
        self,
        embedder: SentenceTransformerEmbedder,
        store: VectorStore,
        catalog: Catalog,
        params: RetrievalParams | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.params = params or RetrievalParams()

    def dense(self, question: str, k: int) -> list[tuple[str, float]]:
        """Chunk ids by cosine similarity to the question."""
        return self.store.query(self.embedder.embed_query(question), k)

    def lexical(self, question: str, k: int) -> list[tuple[str, float]]:
        """Chunk ids by BM25 score."""
        return self.catalog.search(question, k)

    def retrieve(self, question: str, top_k: int = 5) -> list[Passage]:
        """The ``top_k`` best passages, fused by reciprocal rank, best first."""
        p = self.params
        dense = self.dense(question, max(p.dense_candidates, top_k))
        lexical = self.lexical(question, max(p.lexical_candidates, top_k))
        fused: dict[str, float] = {}
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, 1)}
        dense_score = dict(dense)
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical, 1)}
        for ranks in (dense_rank, lexical_rank):
            for cid, rank in ranks.items():
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (p.rrf_k + rank)
        ordered = sorted(fused, key=lambda cid: fused[cid], reverse=True)
        # Fetch more than top_k: dense ids of replaced documents are no longer live.
        chunks = self.catalog.chunks_by_id(ordered[: top_k * 3])
        passages = [
            Passage(
                chunk=chunks[cid],
                score=fused[cid],
                dense_rank=dense_rank.get(cid),
                lexical_rank=lexical_rank.get(cid),
                dense_score=dense_score.get(cid),
            )
            for cid in ordered[: top_k * 3]
            if cid in chunks
        ]
        return passages[:top_k]
