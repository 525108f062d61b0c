"""SciFact retrieval: dense, lexical, hybrid (served default) and RRF, on the train judgements.

The test judgements are not in shared/data on purpose, so the figures are on train: all 809
judged queries, and separately the held-out 30% split (``split_ids``) that no setting was tuned
on. Also the search latency (top 10, cold query cache) per method.

    python benchmarks/retrieval_scifact.py [--data ../shared/data] [--index-dir DIR]

The first run indexes the 5,183 abstracts (about 40 minutes on the shared 2-core machine);
later runs reuse the index.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, open_index, require, table, write
from rag.evaluation.datasets import read_qrels, read_queries, split_ids
from rag.evaluation.runner import summarise
from rag.evaluation.service import EvaluationService


def _progress(method: str, n: int, total: int) -> None:
    if n % 100 == 0 or n == total:
        print(f"  {method}: {n}/{total}", file=sys.stderr, flush=True)


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--index-dir", type=Path, default=None)
    args = ap.parse_args()
    root = require(args.data / "scifact", "SciFact")
    corpus = root / "corpus.jsonl"
    index = open_index(corpus, args.index_dir)
    container = index.container
    service = EvaluationService(container, index=index.run.as_dict())
    queries = read_queries(root / "queries.jsonl")
    qrels = read_qrels(root / "qrels" / "train.tsv")
    _, held = split_ids(sorted(qrels), holdout=0.3)
    ids = sorted(qrels)
    rows = service.retrieval(queries, qrels, progress=_progress).by_method
    params = container.retriever.params
    fusion, params.fusion = params.fusion, "rrf"
    rrf = service.retrieval(queries, qrels, methods=("hybrid",), progress=_progress)
    params.fusion = fusion
    rows["hybrid-rrf"] = rrf.by_method["hybrid"]
    results: dict[str, dict[str, object]] = {}
    for split, subset in (("train", ids), ("held-out", held)):
        for method, by_query in rows.items():
            results[f"{method} ({split})"] = summarise(by_query, subset)
    cols = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms", "queries"]
    print(table(results, cols))
    path = write(
        "retrieval_scifact",
        {
            "settings": container.settings.retrieval.model_dump(mode="json"),
            "chunks": container.catalog.chunk_count(),
            "index_dir": str(container.settings.data_dir),
            "index": index.run.as_dict(),
            "results": results,
        },
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
