"""Write a SciFact subset small enough to index in minutes: the abstracts judged for the first
``--queries`` train queries plus ``--others`` unjudged ones, and those queries' judgements.

For before/after retrieval checks of a change that alters vectors (figures on a subset are
comparable with each other, not with the full corpus's):

    python benchmarks/scifact_subset.py --out /tmp/scifact-sub [--queries 300 --others 450]
    ragstead eval retrieval --corpus /tmp/scifact-sub/corpus.jsonl \\
        --queries ../shared/data/scifact/queries.jsonl --qrels /tmp/scifact-sub/qrels.tsv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, require


def main() -> None:
    """Write corpus.jsonl and qrels.tsv under --out."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=300, help="first N judged train queries")
    ap.add_argument("--others", type=int, default=450, help="unjudged abstracts added")
    args = ap.parse_args()
    root = require(args.data / "scifact", "SciFact")
    lines = (root / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()
    head, *rows = [line.split("\t") for line in lines]
    chosen = set(list(dict.fromkeys(r[0] for r in rows))[: args.queries])
    kept = [r for r in rows if r[0] in chosen]
    judged = {r[1] for r in kept}
    text = (root / "corpus.jsonl").read_text(encoding="utf-8")
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    subset = [d for d in docs if d["_id"] in judged]
    subset += [d for d in docs if d["_id"] not in judged][: args.others]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "corpus.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d) + "\n" for d in subset)
    with open(args.out / "qrels.tsv", "w", encoding="utf-8") as fh:
        fh.writelines("\t".join(r) + "\n" for r in [head, *kept])
    print(f"{len(chosen)} queries, {len(subset)} abstracts ({len(judged)} judged) in {args.out}")


if __name__ == "__main__":
    main()
