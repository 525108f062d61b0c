"""Hybrid retrieval: dense search in the vector store and BM25 in the catalog, fused.

Dense search gives two lists: chunks by their own vector, and chunks by their best sentence's
vector (``rag.chunk_vectors``); BM25 matches a chunk's title and section path, its text, and
its neighbours' text at a lower weight (``rag.stores.catalog``). All three are fused.

Both stores apply the same ``Filters`` inside their search (each translates it into its own
dialect; the retriever holds none), so a filtered search returns the best matching chunks
rather than the matching few among the best. The fused candidates may then be reranked
(``Reranker`` seam), diversified (MMR) and widened with their neighbouring chunks.

Example::

    retriever = Retriever(embedder, store, catalog, RetrievalSettings(neighbors=1))
    passages = retriever.retrieve("How long is parental leave?", top_k=5,
                                  filters=Filters(doc_types=("pdf",), groups=frozenset({"hr"})))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from rag.doc_profile import match, names_something, question_profile, resolve_latest
from rag.embedders.base import Embedder
from rag.errors import InvalidRequestError
from rag.filters import Filters, matches
from rag.fusion import blend, rrf
from rag.rerank import Reranker
from rag.settings import RetrievalSettings
from rag.stores.catalog import Catalog
from rag.stores.vector_store import VectorStore
from rag.types import Chunk, Passage

Method = Literal["dense", "lexical", "hybrid"]
METHODS: tuple[Method, ...] = ("dense", "lexical", "hybrid")

#: BM25 and the sentence search run beside the query embedding and the chunk search (SQLite,
#: Chroma and torch release the GIL); their tasks never wait on this pool themselves.
_SIDE_SEARCHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragstead-search")


class Retriever:
    """Finds the passages that answer a question."""

    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        catalog: Catalog,
        params: RetrievalSettings | None = None,
        *,
        reranker: Reranker | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self.lexical_index = catalog.lexical
        self.params = params or RetrievalSettings()
        self.reranker = reranker

    # -- the two retrievers ------------------------------------------------------------------

    def dense(
        self, question: str, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Chunk ids by cosine similarity to the question, among chunks matching ``filters``."""
        return self._dense_lists(question, k, filters, sentences=False)[0]

    def _dense_lists(
        self, question: str, k: int, filters: Filters | None, *, sentences: bool = True
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """(chunks by chunk vector, chunks by best sentence vector), both filtered."""
        if filters is not None and filters.source:
            # A vector store matches no glob: the catalog resolves it into document ids.
            allowed = frozenset(self.catalog.doc_ids_matching(filters.source))
            if filters.doc_ids is not None:
                allowed &= filters.doc_ids
            filters = dataclasses.replace(filters, doc_ids=allowed)
        if filters is not None and filters.doc_ids == frozenset():
            return [], []
        vector = self.embedder.embed_query(question)
        if sentences and self.params.sentence_weight > 0:
            n = self.params.sentence_candidates
            by_sentence = _SIDE_SEARCHES.submit(self.store.query_parts, vector, n, filters)
            return self.store.query(vector, k, filters), by_sentence.result()
        return self.store.query(vector, k, filters), []

    def lexical(
        self, question: str, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Chunk ids by BM25 score, among chunks matching ``filters``."""
        return self.lexical_index.search(
            question,
            k,
            filters,
            title_weight=self.params.title_weight,
            context_weight=self.params.context_weight,
        )

    # -- search ------------------------------------------------------------------------------

    def search(
        self,
        question: str,
        k: int,
        *,
        filters: Filters | None = None,
        method: Method = "hybrid",
    ) -> list[Passage]:
        """The ``k`` best chunks by one method, best first, without reranking or expansion."""
        if method not in METHODS:
            raise InvalidRequestError(
                f"unknown retrieval method {method!r}", hint=f"one of {', '.join(METHODS)}"
            )
        p = self.params
        dense: list[tuple[str, float]] = []
        by_sentence: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        pending = None
        if method != "dense":
            pending = _SIDE_SEARCHES.submit(
                self.lexical, question, max(p.lexical_candidates, k), filters
            )
        if method != "lexical":
            dense, by_sentence = self._dense_lists(question, max(p.dense_candidates, k), filters)
        if pending is not None:
            lexical = pending.result()
        # An index without sentence vectors gives their share back to the chunk vectors.
        share = p.sentence_weight if by_sentence else 0.0
        if method == "dense":
            fused = blend([dense, by_sentence], [1.0 - share, share]) if share else dict(dense)
        elif method == "lexical":
            fused = dict(lexical)
        elif p.fusion == "rrf":
            fused = rrf([dense, by_sentence, lexical], k=p.rrf_k, weights=[1.0 - share, share, 1.0])
        else:
            w = p.dense_weight
            fused = blend([dense, by_sentence, lexical], [w * (1.0 - share), w * share, 1.0 - w])
        fit: dict[str, float] = {}
        if p.profile_boost > 0 and fused:
            fused, fit = self._prefer_named(question, fused, p.profile_boost)
        # among equal scores the better-fitting document first (a boosted sibling can tie)
        ordered = sorted(fused, key=lambda cid: (fused[cid], fit.get(cid, 0.0)), reverse=True)
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, 1)}
        dense_score = dict(dense)
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical, 1)}
        passages: list[Passage] = []
        # Fetch in slices: dense ids of replaced documents are no longer live in the catalog.
        for start in range(0, len(ordered), max(k * 2, 20)):
            window = ordered[start : start + max(k * 2, 20)]
            chunks = self.catalog.chunks_by_id(window)
            for cid in window:
                chunk = chunks.get(cid)
                if chunk is None or (filters is not None and not matches(filters, chunk)):
                    continue
                passages.append(
                    Passage(
                        chunk=chunk,
                        score=fused[cid],
                        dense_rank=dense_rank.get(cid),
                        lexical_rank=lexical_rank.get(cid),
                        dense_score=dense_score.get(cid),
                        document_fit=fit.get(cid),
                    )
                )
            if len(passages) >= k:
                break
        return passages[:k]

    def retrieve(
        self,
        question: str,
        top_k: int = 5,
        *,
        filters: Filters | None = None,
        method: Method = "hybrid",
    ) -> list[Passage]:
        """The ``top_k`` best passages: fused, then reranked, diversified and widened as set."""
        p = self.params
        pool = top_k
        if self.reranker is not None:
            pool = max(pool, p.rerank_candidates)
        if p.mmr_lambda is not None:
            pool = max(pool, top_k * 4)
        if p.neighbors > 0:
            pool = max(pool, top_k * 2)  # hits inside an earlier hit's window are dropped
        passages = self.search(question, pool, filters=filters, method=method)
        if self.reranker is not None and passages:
            passages = self._rerank(question, passages)
        if p.mmr_lambda is not None and len(passages) > top_k:
            passages = self._mmr(passages, top_k, p.mmr_lambda)
        if p.neighbors > 0:
            return self.expand(passages, p.neighbors, filters, limit=top_k)
        return passages[:top_k]

    def _prefer_named(
        self, question: str, fused: dict[str, float], boost: float
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Scores raised for chunks of documents whose profile matches what the question names
        (a period, a company or product, "the latest"), and each chunk's document fit;
        unchanged (and no fits) where the question names nothing or every document fits alike.
        """
        asked = question_profile(question)
        if not names_something(asked):
            return fused, {}
        doc_of = self.catalog.doc_ids_of(fused)
        profiles = self.catalog.profiles(sorted(set(doc_of.values())))
        asked = resolve_latest(asked, profiles)
        fit = {doc_id: match(asked, profile) for doc_id, profile in profiles.items()}
        if len(set(fit.values())) <= 1:
            return fused, {}  # no candidate document fits better than another
        chunk_fit = {cid: fit.get(doc_of.get(cid, ""), 0.0) for cid in fused}
        raised = {cid: score * (1.0 + boost * chunk_fit[cid]) for cid, score in fused.items()}
        return raised, chunk_fit

    # -- steps after fusion ------------------------------------------------------------------

    def _rerank(self, question: str, passages: list[Passage]) -> list[Passage]:
        assert self.reranker is not None
        scores = self.reranker.score(question, [c.chunk.embed_text() for c in passages])
        ranked = sorted(zip(scores, passages, strict=True), key=lambda t: t[0], reverse=True)
        return [dataclasses.replace(ps, score=float(s)) for s, ps in ranked]

    def _mmr(self, passages: list[Passage], k: int, lam: float) -> list[Passage]:
        """Maximal marginal relevance over the candidates' stored vectors."""
        vectors = self.store.get_vectors([ps.chunk.id for ps in passages])
        if len(vectors) < len(passages):
            return passages
        mat = np.stack([vectors[ps.chunk.id] for ps in passages])
        rel = np.array([ps.score for ps in passages], dtype=np.float32)
        span = float(rel.max() - rel.min())
        rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
        sims = mat @ mat.T
        chosen: list[int] = []
        left = list(range(len(passages)))
        while left and len(chosen) < k:
            if chosen:
                penalty = sims[np.ix_(left, chosen)].max(axis=1)
            else:
                penalty = np.zeros(len(left), dtype=np.float32)
            gains = lam * rel[left] - (1 - lam) * penalty
            best = left[int(np.argmax(gains))]
            chosen.append(best)
            left.remove(best)
        return [passages[i] for i in chosen]

    def expand(
        self,
        passages: Sequence[Passage],
        n: int,
        filters: Filters | None = None,
        *,
        limit: int | None = None,
    ) -> list[Passage]:
        """Each passage widened with up to ``n`` chunks before and after it in its document.

        A hit whose window is already inside an earlier passage is dropped, so the same text is
        not given twice; the passage keeps the hit's id, score and ranks.
        """
        out: list[Passage] = []
        covered: dict[str, set[int]] = {}
        for ps in passages:
            hit = ps.chunk
            if hit.chunk_index in covered.get(hit.doc_id, set()):
                continue
            window = self.catalog.neighbors(hit.doc_id, hit.chunk_index, n)
            window = [c for c in window if filters is None or matches(filters, c)]
            seen = covered.setdefault(hit.doc_id, set())
            window = [c for c in window if c.chunk_index not in seen or c.id == hit.id]
            seen.update(c.chunk_index for c in window)
            out.append(dataclasses.replace(ps, chunk=merge_chunks(hit, window)))
            if limit is not None and len(out) >= limit:
                break
        return out


def merge_chunks(hit: Chunk, window: Sequence[Chunk]) -> Chunk:
    """One chunk with the text of ``window`` (in document order) and the hit's identity."""
    if len(window) <= 1:
        return hit
    ordered = sorted(window, key=lambda c: c.chunk_index)
    ends = [e for c in ordered if (e := c.page_end or c.page) is not None]
    # The citation keeps the hit's page (where the match is); page_end covers the window.
    return dataclasses.replace(
        hit,
        text="\n".join(c.text for c in ordered),
        page_end=max(ends) if ends and hit.page is not None else hit.page_end,
    )
