"""Run the retriever's methods over labelled queries and report figures side by side.

``evaluate_retrieval`` scores document rankings against BEIR qrels (a document ranks where its
best chunk ranks); ``evaluate_qa`` checks whether verbatim answers lie inside the retrieved
passages. Both time each query with a cold query-embedding cache, on the path Ragstead serves
(``Retriever.retrieve`` with ``top_k=10``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rag.evaluation.datasets import QAQuestion
from rag.evaluation.metrics import (
    contains_answer,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from rag.retriever import METHODS, Method, Retriever
from rag.types import Passage

Progress = Callable[[str, int, int], None]


def deep_k(retriever: Retriever) -> int:
    """Chunks to rank 100 documents: the whole candidate pool, so the fused order is the one
    a top-10 search serves (several chunks may share a document)."""
    return max(retriever.params.dense_candidates, retriever.params.lexical_candidates, 100)


def doc_ranking(passages: Sequence[Passage], limit: int = 100) -> list[str]:
    """Document ids in the order their first chunk appears."""
    seen: dict[str, None] = {}
    for p in passages:
        seen.setdefault(p.chunk.doc_id, None)
        if len(seen) >= limit:
            break
    return list(seen)


def _timed(
    retriever: Retriever, question: str, method: Method, top_k: int
) -> tuple[list[Passage], float]:
    clear = getattr(retriever.embedder, "clear_query_cache", None)
    if callable(clear):
        clear()
    started = time.perf_counter()
    passages = retriever.retrieve(question, top_k=top_k, method=method)
    return passages, (time.perf_counter() - started) * 1000


def _latency(ms: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2)}


def evaluate_retrieval(
    retriever: Retriever,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    methods: Sequence[Method] = METHODS,
    progress: Progress | None = None,
    per_query: dict[str, dict[str, dict[str, float]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """nDCG@10, recall@10/100, MRR@10 and latency per method, over the judged queries.

    ``per_query``, when given, receives ``{method: {query id: {metric: value, "ms": ...}}}``
    so figures for subsets of the queries need no second run (``summarise``).
    """
    ids = [q for q in qrels if q in queries]
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for method in methods:
        rows[method] = {}
        for n, qid in enumerate(ids, 1):
            _, elapsed = _timed(retriever, queries[qid], method, 10)
            deep = retriever.search(queries[qid], deep_k(retriever), method=method)
            ranking = doc_ranking(deep, 100)
            rel = qrels[qid]
            rows[method][qid] = {
                "ndcg@10": ndcg_at_k(ranking, rel, 10),
                "recall@10": recall_at_k(ranking, rel, 10),
                "recall@100": recall_at_k(ranking, rel, 100),
                "mrr@10": mrr_at_k(ranking, rel, 10),
                "ms": elapsed,
            }
            if progress:
                progress(method, n, len(ids))
    if per_query is not None:
        per_query.update(rows)
    return {method: summarise(by_query, ids) for method, by_query in rows.items()}


def summarise(by_query: Mapping[str, Mapping[str, float]], ids: Sequence[str]) -> dict[str, Any]:
    """Mean metrics and latency percentiles over ``ids`` from per-query rows."""
    chosen = [by_query[q] for q in ids if q in by_query]
    count = max(len(chosen), 1)
    metrics = [k for k in (chosen[0] if chosen else {}) if k != "ms"]
    return {
        **{k: round(sum(r[k] for r in chosen) / count, 4) for k in metrics},
        **_latency([r["ms"] for r in chosen]),
        "queries": len(chosen),
    }


def evaluate_qa(
    retriever: Retriever,
    questions: Sequence[QAQuestion],
    *,
    methods: Sequence[Method] = METHODS,
    progress: Progress | None = None,
    per_query: dict[str, dict[str, dict[str, float]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per method: share of questions whose answer lies in the top 1/5/10 passages (hit@k),
    and whose document is among the top 1/5/10 (doc@k), with latency."""
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for method in methods:
        rows[method] = {}
        for n, q in enumerate(questions, 1):
            passages, elapsed = _timed(retriever, q.question, method, 10)
            texts = [p.chunk.text for p in passages]
            docs = [p.chunk.doc_id for p in passages]
            row: dict[str, float] = {}
            for k in (1, 5, 10):
                row[f"hit@{k}"] = float(contains_answer(texts, q.answers, k))
            for k in (1, 5, 10):
                row[f"doc@{k}"] = float(q.doc_id in docs[:k])
            row["ms"] = elapsed
            rows[method][q.id] = row
            if progress:
                progress(method, n, len(questions))
    if per_query is not None:
        per_query.update(rows)
    ids = [q.id for q in questions]
    report: dict[str, dict[str, Any]] = {}
    for name, by_q in rows.items():
        figures = summarise(by_q, ids)
        figures["questions"] = figures.pop("queries")
        report[name] = figures
    return report
