"""Follow-up rewriting: accuracy of the rule rewriter on written follow-up pairs.

    python benchmarks/followups.py [--pairs tests/fixtures/follow-ups.jsonl]

Each line of the pairs file holds the earlier user questions (``history``), the follow-up
(``question``) and the standalone questions that read right (``expected``). A rewrite counts
as right when it equals one of them, compared without case, punctuation or extra spaces.
Prints each miss and the accuracy; writes ``benchmarks/results/followups.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import write  # noqa: E402
from rag.conversation import RuleRewriter  # noqa: E402
from rag.embedders.sentence_transformer import SentenceTransformerEmbedder  # noqa: E402
from rag.generators.base import Message  # noqa: E402

PAIRS = ROOT / "tests" / "fixtures" / "follow-ups.jsonl"


def normalise(text: str) -> str:
    """Lower case, words only."""
    return " ".join(re.findall(r"[\w'-]+", text.lower().replace("’", "'")))


def main() -> None:
    """Rewrite every follow-up and compare."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=Path, default=PAIRS)
    args = ap.parse_args()
    rewriter = RuleRewriter(SentenceTransformerEmbedder())
    rows = []
    for line in args.pairs.read_text().splitlines():
        if not line.strip():
            continue
        pair = json.loads(line)
        history: list[Message] = []
        for turn in pair["history"]:
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": "-"}]
        got = rewriter.rewrite(pair["question"], history)
        right = normalise(got) in {normalise(e) for e in pair["expected"]}
        rows.append({**pair, "rewritten": got, "right": right})
        if not right:
            print(f"MISS {pair['question']!r} -> {got!r} (wanted {pair['expected'][0]!r})")
    accuracy = sum(r["right"] for r in rows) / len(rows)
    print(f"follow-up rewrites right: {sum(r['right'] for r in rows)}/{len(rows)} = {accuracy:.3f}")
    path = write("followups", {"pairs": len(rows), "accuracy": round(accuracy, 3), "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
