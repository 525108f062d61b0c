"""Search latency on the SciFact index: hybrid top 10, cold query cache, with a breakdown.

Prints p50/p95 of the whole ``Retriever.retrieve(top_k=10)`` call and of its parts (query
embedding, Chroma search by chunk and by sentence, BM25 search, fusion; ``time_queries``, which
``hybrid_scale.py`` uses too), with the machine's load average before and after, since on a
shared machine the load decides most of the figure.

    python benchmarks/search_latency.py [--data ../shared/data] [--index-dir DIR] [--queries 200]
        [--threads N]

Needs the index that ``benchmarks/retrieval_scifact.py`` (or ``ragstead eval retrieval``) built.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, open_index, require, write
from rag.evaluation.datasets import read_queries
from rag.evaluation.metrics import percentile
from rag.fusion import blend

if TYPE_CHECKING:
    from rag.container import Container


PARTS = ("total", "embed", "dense", "sentences", "lexical", "fusion")


def time_queries(
    container: Container, texts: Sequence[str], *, seconds: float | None = None
) -> dict[str, list[float]]:
    """Milliseconds per question of ``Retriever.retrieve(top_k=10)`` (cold query cache) and
    of its parts, each timed alone: query embedding, chunk-vector search, sentence-vector
    search, BM25 and the fusion of the three lists. In the whole call BM25 and the sentence
    search run beside the others, so the parts add up to more than the total. ``seconds``
    bounds the loop (the questions asked so far are kept)."""
    retriever, embedder, p = container.retriever, container.embedder, container.retriever.params
    parts: dict[str, list[float]] = {name: [] for name in PARTS}
    clear = getattr(embedder, "clear_query_cache", lambda: None)  # an embedder without a cache
    share, w = p.sentence_weight, p.dense_weight
    weights = [w * (1.0 - share), w * share, 1.0 - w]  # as Retriever.search blends them
    stop = time.monotonic() + seconds if seconds is not None else None
    for text in texts:
        if stop is not None and time.monotonic() > stop:
            break
        clear()
        t0 = time.perf_counter()
        retriever.retrieve(text, top_k=10)
        t1 = time.perf_counter()
        clear()
        vector = embedder.embed_query(text)
        t2 = time.perf_counter()
        dense = container.vector_store.query(vector, p.dense_candidates)
        t3 = time.perf_counter()
        by_sentence = container.vector_store.query_parts(vector, p.sentence_candidates)
        t4 = time.perf_counter()
        lexical = retriever.lexical(text, p.lexical_candidates)
        t5 = time.perf_counter()
        blend([dense, by_sentence, lexical], weights)
        t6 = time.perf_counter()
        for name, s in zip(
            PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True
        ):
            parts[name].append(s * 1000)
    return parts


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = ap.parse_args()
    root = require(args.data / "scifact", "SciFact")
    corpus = root / "corpus.jsonl"
    container = open_index(corpus, args.index_dir).container
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    texts = list(read_queries(root / "queries.jsonl").values())[: args.queries]
    container.retriever.retrieve("warm up the model and the caches", top_k=10)
    load_before = os.getloadavg()
    parts = time_queries(container, texts)
    load_after = os.getloadavg()
    figures = {
        name: {"p50_ms": round(percentile(v, 50), 2), "p95_ms": round(percentile(v, 95), 2)}
        for name, v in parts.items()
    }
    for name, row in figures.items():
        print(f"{name:9s} p50 {row['p50_ms']:8.2f} ms   p95 {row['p95_ms']:8.2f} ms")
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"{os.cpu_count()} CPUs"
    )
    path = write(
        "search_latency",
        {
            "queries": len(texts),
            "threads": args.threads or None,
            "load_before": load_before,
            "load_after": load_after,
            "chunks": container.catalog.chunk_count(),
            "results": figures,
        },
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
