"""Keyword search with and without the cut (``CUT_ABOVE``), on the same index, alternating.

Over an index ``hybrid_scale.py --keep`` left (its ``index.sqlite3``), each SciFact question
is searched for the 200 candidates a hybrid search takes, by the FTS5 index as configured and
by one without the cut (its four rarest words always kept: ``cut_above=None``), in
alternating order, so both see the same load. Prints p50/p95 of each and how many words
each searched, with the CPU and the load.

    python benchmarks/keyword_cut_ab.py --catalog /work/scale/hybrid-scale-1000000/index.sqlite3
        [--data ../shared/data] [--queries 200]

Writes ``benchmarks/results/keyword_cut_ab.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, cpu_facts, require, write
from rag.evaluation.datasets import read_queries
from rag.evaluation.metrics import percentile
from rag.settings import RetrievalSettings
from rag.stores.lexical_index import SqliteLexicalIndex
from rag.stores.sqlite import SqliteDatabase

#: what BM25 hands to fusion in a hybrid search (the retrieval default).
LEXICAL_CANDIDATES = RetrievalSettings().lexical_candidates


def main() -> None:
    """Time both searches per question, alternating, and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, required=True, help="an index.sqlite3")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    catalog = require(args.catalog, "the catalog of a kept hybrid_scale index")
    root = require(args.data / "scifact", "SciFact")
    questions = list(read_queries(require(root / "queries.jsonl", "SciFact queries")).values())
    db = SqliteDatabase(catalog)
    indexes = {"cut": SqliteLexicalIndex(db), "no cut": SqliteLexicalIndex(db, cut_above=None)}
    chunks = indexes["cut"].count()
    before = cpu_facts()
    load = before["load_average"]
    print(f"{before['cpu']}, {before['cores']} cores; {chunks:,} chunks; load {load}")
    times: dict[str, list[float]] = {name: [] for name in indexes}
    words: dict[str, list[int]] = {name: [] for name in indexes}
    for i, question in enumerate(questions[: args.queries]):
        order = list(indexes) if i % 2 == 0 else list(reversed(indexes))
        for name in order:
            index = indexes[name]
            started = time.perf_counter()
            index.search(question, LEXICAL_CANDIDATES)
            times[name].append((time.perf_counter() - started) * 1000)
            words[name].append(len(index.searched_words(question)))
    after = cpu_facts()
    figures: dict[str, Any] = {}
    for name, ms in times.items():
        figures[name] = {
            "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1),
            "mean_words": round(sum(words[name]) / len(words[name]), 2),
            "cut_questions": sum(a < b for a, b in zip(words["cut"], words["no cut"], strict=True)),
        }
        print(
            f"{name:>7}: p50 {figures[name]['p50_ms']} ms  p95 {figures[name]['p95_ms']} ms"
            f"  words searched {figures[name]['mean_words']} on average"
        )
    print(f"questions the cut shortened: {figures['cut']['cut_questions']} of {len(times['cut'])}")
    print(f"load at the end {after['load_average']}")
    path = write(
        "keyword_cut_ab",
        {"cpu": before, "cpu_after": after, "chunks": chunks, "figures": figures},
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
