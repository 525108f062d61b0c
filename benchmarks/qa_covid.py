"""COVID-QA: is the verbatim answer inside the top 1/5/10 retrieved chunks?

Measures, in the same run and on the same questions, the pipeline a user would assemble from
the LangChain tutorial (RecursiveCharacterTextSplitter 1000/200, all-MiniLM-L6-v2, dense
top-k: exact cosine search here, which ranks as Chroma does), BM25 over those same chunks
(SQLite FTS5 with Porter stemming; bm25s is not installed), and Ragstead: dense, lexical,
hybrid (the served default, with neighbouring chunks) and hybrid without them. Figures are for
the held-out half of the dev questions (``split_ids``; nothing was tuned on it); ``--all`` adds
the tune half and all questions.

    python benchmarks/qa_covid.py [--data ../shared/data] [--index-dir DIR]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, RESULTS, open_index, require, table, write
from rag.evaluation.datasets import (
    QAQuestion,
    file_digest,
    read_corpus,
    read_qa_questions,
    split_ids,
)
from rag.evaluation.metrics import contains_answer
from rag.evaluation.runner import summarise
from rag.evaluation.service import EvaluationService
from rag.stores.lexical_index import match_expression

Search = Callable[[str], list[tuple[str, str]]]  # question -> [(doc_id, text)] best first


def peer_chunks(corpus: Path) -> list[tuple[str, str]]:
    """(doc_id, text) chunks from LangChain's RecursiveCharacterTextSplitter(1000, 200)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    out: list[tuple[str, str]] = []
    for record in read_corpus(corpus):
        text = f"{record.title}\n\n{record.text}" if record.title else record.text
        out.extend((record.id, piece) for piece in splitter.split_text(text))
    return out


def peer_dense(chunks: list[tuple[str, str]], embedder: object, cache: Path) -> Search:
    """Dense search over the peer chunks (embeddings cached in benchmarks/results)."""
    if cache.is_file():
        matrix = np.load(cache)
    else:
        matrix = embedder.embed_batch([t for _, t in chunks])  # type: ignore[attr-defined]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, matrix)

    def search(question: str) -> list[tuple[str, str]]:
        scores = matrix @ embedder.embed_query(question)  # type: ignore[attr-defined]
        return [chunks[i] for i in np.argsort(-scores)[:10]]

    return search


def peer_bm25(chunks: list[tuple[str, str]]) -> Search:
    """BM25 (FTS5, Porter) over the peer chunks."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='porter unicode61')")
    conn.executemany("INSERT INTO f(rowid, body) VALUES (?, ?)", enumerate(t for _, t in chunks))

    def search(question: str) -> list[tuple[str, str]]:
        rows = conn.execute(
            "SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 10",
            (match_expression(question),),
        ).fetchall()
        return [chunks[r[0]] for r in rows]

    return search


def per_question(search: Search, questions: Sequence[QAQuestion]) -> dict[str, dict[str, float]]:
    """hit@1/5/10 and doc@1/5/10 of a search function, per question id."""
    rows: dict[str, dict[str, float]] = {}
    for q in questions:
        started = time.perf_counter()
        found = search(q.question)
        row = {"ms": (time.perf_counter() - started) * 1000}
        texts = [t for _, t in found]
        docs = [d for d, _ in found]
        for k in (1, 5, 10):
            row[f"hit@{k}"] = float(contains_answer(texts, q.answers, k))
            row[f"doc@{k}"] = float(q.doc_id in docs[:k])
        rows[q.id] = row
    return rows


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--all", action="store_true", help="also the tune half and all questions")
    args = ap.parse_args()
    root = require(args.data / "covidqa", "COVID-QA")
    corpus = root / "corpus.jsonl"
    questions = read_qa_questions(root / "questions-dev.jsonl")
    tune_ids, held_ids = split_ids([q.id for q in questions], holdout=0.5)
    splits = {"held-out": held_ids}
    if args.all:
        splits.update({"tune": tune_ids, "all": [q.id for q in questions]})
    index = open_index(corpus, args.index_dir)
    container = index.container
    service = EvaluationService(container, index=index.run.as_dict())
    chunks = peer_chunks(corpus)
    cache = RESULTS / "cache" / f"covid-peer-{file_digest(corpus)}.npy"
    dense = peer_dense(chunks, container.embedder, cache)
    bm25 = peer_bm25(chunks)
    retriever = container.retriever
    measured = [q for q in questions if args.all or q.id in set(held_ids)]
    rows: dict[str, dict[str, dict[str, float]]] = {
        "langchain-dense": per_question(dense, measured),
        "langchain-bm25": per_question(bm25, measured),
    }
    ragstead = service.qa(measured).by_method
    rows.update({f"ragstead-{m}": r for m, r in ragstead.items()})
    saved, retriever.params.neighbors = retriever.params.neighbors, 0
    bare = service.qa(measured, methods=("hybrid",)).by_method
    retriever.params.neighbors = saved
    rows["ragstead-hybrid, no neighbours"] = bare["hybrid"]
    results: dict[str, dict[str, object]] = {}
    for split, ids in splits.items():
        for name, by_question in rows.items():
            results[f"{name} ({split})"] = summarise(by_question, ids)
    cols = ["hit@1", "hit@5", "hit@10", "doc@1", "doc@5", "doc@10"]
    print(table(results, cols))
    path = write(
        "qa_covid",
        {
            "peer_chunks": len(chunks),
            "ragstead_chunks": container.catalog.chunk_count(),
            "index": index.run.as_dict(),
            "settings": container.settings.retrieval.model_dump(mode="json"),
            "results": results,
        },
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
