"""What the keyword budget costs in quality at the sizes the scale benchmark measures.

``hybrid_scale.py`` fills 100k and 1M chunks with copies of SciFact, so every word is held by
as many more chunks as there are copies, and the budget (``searched_words``: ``PRUNE_ABOVE``,
``MIN_TERMS``, ``CUT_ABOVE``) cuts each question to fewer words than at SciFact's own size.
Dividing the budget by the number of copies makes SciFact's own index search exactly the words
the copies' index would, with the same BM25 order (each word's share of the chunks is the
same), so its judgements measure the quality of those searches:

- ``every word``: no budget;
- ``as at N``: the budget of an index of N chunks, with the cut (the default);
- ``as at N, no cut``: the same without ``CUT_ABOVE`` (the four rarest words always stay).

SciFact train judgements (809 queries) and their held-out 30% split, nDCG@10, hybrid (what
Ragstead serves) and keyword only.

    python benchmarks/keyword_budget_quality.py [--data ../shared/data] [--index-dir DIR]
        [--sizes 100k,1M]

Writes ``benchmarks/results/keyword_budget_quality.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, cpu_facts, open_index, require, table, write
from benchmarks.hybrid_scale import parse_size
from rag.evaluation.datasets import read_qrels, read_queries, split_ids
from rag.evaluation.runner import summarise
from rag.evaluation.service import EvaluationService
from rag.stores.lexical_index import CUT_ABOVE, PRUNE_ABOVE


def main() -> None:
    """Run SciFact with each budget and print nDCG@10."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument(
        "--sizes",
        type=lambda t: [parse_size(x) for x in t.split(",")],
        default=[100_000, 1_000_000],
    )
    args = ap.parse_args()
    root = require(args.data / "scifact", "SciFact")
    index = open_index(root / "corpus.jsonl", args.index_dir)
    container = index.container
    lexical: Any = container.catalog.lexical
    if not hasattr(lexical, "cut_above"):
        raise SystemExit("this index's keyword search has no budget to vary")
    chunks = container.catalog.chunk_count()
    service = EvaluationService(container, index=index.run.as_dict())
    queries = read_queries(root / "queries.jsonl")
    qrels = read_qrels(root / "qrels" / "train.tsv")
    ids = sorted(qrels)
    _, held = split_ids(ids, holdout=0.3)
    budgets: list[tuple[str, int | None, int | None]] = [("every word", None, None)]
    for size in args.sizes:
        copies = size / chunks
        prune, cut = max(1, round(PRUNE_ABOVE / copies)), max(1, round(CUT_ABOVE / copies))
        budgets.append((f"as at {size:,}", prune, cut))
        budgets.append((f"as at {size:,}, no cut", prune, None))
    results: dict[str, dict[str, Any]] = {}
    words: dict[str, float] = {}
    for name, prune, cut in budgets:
        lexical.prune_above = 10**15 if prune is None else prune
        lexical.cut_above = cut
        searched = [len(lexical.searched_words(queries[q])) for q in ids]
        words[name] = round(sum(searched) / len(searched), 2)
        by_method = service.retrieval(queries, qrels, methods=("hybrid", "lexical")).by_method
        for method, by_query in by_method.items():
            for split, subset in (("train", ids), ("held-out", held)):
                row = summarise(by_query, subset)
                results[f"{name}: {method} ({split})"] = {
                    "ndcg@10": row["ndcg@10"],
                    "words": words[name],
                    "prune_above": "none" if prune is None else prune,
                    "cut_above": "none" if cut is None else cut,
                }
        print(f"{name}: {words[name]} words searched on average", flush=True)
    print(table(results, ["ndcg@10", "words", "prune_above", "cut_above"]))
    path = write(
        "keyword_budget_quality",
        {"cpu": cpu_facts(), "chunks": chunks, "sizes": args.sizes, "results": results},
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
