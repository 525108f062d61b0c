"""How often a question's profile singles out the filing it is about (SEC 10-Q QnA, no model).

    python benchmarks/named_documents.py [--data ../shared/data]

Each filing's profile is built from its file name and the company name on its cover
(``rag.doc_profile``); each single-filing question's profile (its periods, names, "latest") is
matched against all of them. Prints the share of questions whose gold filing is the only best
match, with and without resolving "the latest/most recent" filing, and writes
``benchmarks/results/named_documents.json``. Retrieval and answers are measured by
``ragstead eval answers`` (README, "Questions that name their document").
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import sys
from pathlib import Path

from rag.doc_profile import build_profile, match, question_profile, resolve_latest

ROOT = Path(__file__).resolve().parents[1]
#: the registrant's name as printed on each filing's cover page.
COVERS = {
    "AAPL": "Apple Inc.",
    "AMZN": "Amazon.com, Inc.",
    "INTC": "Intel Corporation",
    "MSFT": "Microsoft Corporation",
    "NVDA": "NVIDIA Corporation",
}


def main() -> int:
    """Match every single-filing question against every filing's profile; print the shares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    folder = args.data / "enterprise" / "sec-10-q"
    questions = args.data / "enterprise" / "sec-10-q-qna.csv"
    if not folder.is_dir() or not questions.is_file():
        print(f"SEC 10-Q data not found under {args.data} (see ../shared/data/README)")
        return 2
    files = sorted(p.name for p in folder.glob("*.pdf"))
    profiles = {
        f: build_profile(Path(f).stem, f, next((c for t, c in COVERS.items() if t in f), ""))
        for f in files
    }
    with questions.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    counts = {"questions": 0, "named_only": 0, "with_latest": 0}
    for row in rows:
        gold = [f for f in files if fnmatch.fnmatch(f, row["Source Docs"].strip())]
        if len(gold) != 1:
            continue
        counts["questions"] += 1
        asked = question_profile(row["Question"])
        for key, profile in (
            ("named_only", asked),
            ("with_latest", resolve_latest(asked, profiles)),
        ):
            scores = {f: match(profile, p) for f, p in profiles.items()}
            best = max(scores.values())
            counts[key] += best > 0 and [f for f, s in scores.items() if s == best] == gold
    figures = {
        "single_filing_questions": counts["questions"],
        "singled_out_named_only": round(counts["named_only"] / counts["questions"], 3),
        "singled_out_with_latest": round(counts["with_latest"] / counts["questions"], 3),
    }
    print(json.dumps(figures))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "named_documents.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
