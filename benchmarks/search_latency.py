"""Search latency on the SciFact index: hybrid top 10, cold query cache, with a breakdown.

Prints p50/p95 of the whole ``Retriever.retrieve(top_k=10)`` call and of its parts (query
embedding, Chroma search, BM25 search), with the machine's load average before and after, since
on a shared machine the load decides most of the figure.

    python benchmarks/search_latency.py [--data ../shared/data] [--index-dir DIR] [--queries 200]
        [--threads N]

Needs the index that ``benchmarks/retrieval_scifact.py`` (or ``ragstead eval retrieval``) built.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, open_index, require, write
from rag.evaluation.datasets import read_queries
from rag.evaluation.metrics import percentile


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
    retriever, embedder = container.retriever, container.embedder
    retriever.retrieve("warm up the model and the caches", top_k=10)
    load_before = os.getloadavg()
    parts: dict[str, list[float]] = {
        "total": [],
        "embed": [],
        "dense": [],
        "sentences": [],
        "lexical": [],
    }
    for text in texts:
        embedder.clear_query_cache()
        t0 = time.perf_counter()
        retriever.retrieve(text, top_k=10)
        t1 = time.perf_counter()
        embedder.clear_query_cache()
        vector = embedder.embed_query(text)
        t2 = time.perf_counter()
        retriever.dense(text, retriever.params.dense_candidates)
        t3 = time.perf_counter()
        container.vector_store.query_parts(vector, retriever.params.sentence_candidates)
        t4 = time.perf_counter()
        retriever.lexical(text, retriever.params.lexical_candidates)
        t5 = time.perf_counter()
        del vector
        for name, ms in (
            ("total", t1 - t0),
            ("embed", t2 - t1),
            ("dense", t3 - t2),
            ("sentences", t4 - t3),
            ("lexical", t5 - t4),
        ):
            parts[name].append(ms * 1000)
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
