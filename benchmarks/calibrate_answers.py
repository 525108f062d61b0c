"""Calibrate the answer thresholds and tune the extractive weights, on dev data only.

    python benchmarks/calibrate_answers.py [--data ../shared/data] [--every 2]

1. ``answers.min_relevance``: the best question-passage cosine of answerable questions (each set
   over its own corpus: COVID-QA dev, SEC 10-Q QnA, examples) against unanswerable ones (each set
   over the other corpora). The threshold keeps 98% of the answerable questions.
2. ``answers.min_support``: a gold COVID-QA answer span against the sentences of a retrieved
   passage that contains it (supported) and of retrieved passages that do not (unsupported, same
   topic). The threshold maximises balanced accuracy.
3. ``ExtractiveParams``: a grid over the sentence-score weights, tuned on the even-numbered
   sampled COVID-QA dev questions and checked on the odd-numbered ones.

Prints the figures and writes ``benchmarks/results/calibrate_answers.json``. Indexes are built
(once) under ``<data dir>/eval/`` and shared with ``ragstead eval`` (``ingest.corpus``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import open_index  # noqa: E402
from rag.answer_eval import EvalQuestion, load_questions, matches_gold  # noqa: E402
from rag.extractive import Candidate, ExtractiveParams, candidates, choose, render  # noqa: E402
from rag.grounding import passage_sentences  # noqa: E402
from rag.text import contains_answer, normalise_answer, strip_markers, token_f1  # noqa: E402


def relevance_matrix(sets: dict[str, tuple[Any, list[EvalQuestion]]]) -> dict[str, Any]:
    """Best cosine of every question set over every corpus; the threshold keeping 98%."""
    scores: dict[tuple[str, str], list[float]] = {}
    for corpus_name, (container, _) in sets.items():
        assistant = container.assistant
        for set_name, (_, questions) in sets.items():
            values = []
            for q in questions:
                passages = container.retriever.retrieve(q.question, top_k=5)
                values.append(assistant.relevance(q.question, passages))
            scores[(set_name, corpus_name)] = values
    positives = np.array([v for (s, c), vs in scores.items() if s == c for v in vs])
    threshold = float(np.quantile(positives, 0.02))
    table = {
        f"{s} over {c}": {
            "answerable": s == c,
            "median_cosine": round(float(np.median(vs)), 3),
            "share_at_or_above": round(float(np.mean(np.array(vs) >= threshold)), 3),
        }
        for (s, c), vs in scores.items()
    }
    negatives = np.array([v for (s, c), vs in scores.items() if s != c for v in vs])
    return {
        "min_relevance": round(threshold, 3),
        "answerable_kept": round(float(np.mean(positives >= threshold)), 3),
        "unanswerable_refused": round(float(np.mean(negatives < threshold)), 3),
        "pairs": table,
    }


def support_threshold(container: Any, questions: list[EvalQuestion]) -> dict[str, Any]:
    """Similarity of gold spans to passages that hold them vs. passages that do not."""
    cache = container.assistant.vectors
    pos: list[float] = []
    neg: list[float] = []
    for q in questions:
        gold = q.answers[0]
        passages = container.retriever.retrieve(q.question, top_k=5)
        holding = [normalise_answer(gold) in normalise_answer(p.chunk.text) for p in passages]
        if not any(holding) or all(holding):
            continue
        span = cache.vectors([gold])[0]
        for passage, holds in zip(passages, holding, strict=True):
            sentences = [s.text for s in passage_sentences([passage])]
            best = float(np.max(cache.vectors(sentences) @ span)) if sentences else 0.0
            (pos if holds else neg).append(best)
    p, n = np.array(pos), np.array(neg)
    best_t, best_acc = 0.5, 0.0
    for t in np.arange(0.3, 0.95, 0.01):
        acc = (np.mean(p >= t) + np.mean(n < t)) / 2
        if acc > best_acc:
            best_t, best_acc = float(t), float(acc)
    return {
        "min_support": round(best_t, 2),
        "balanced_accuracy": round(best_acc, 3),
        "supported_pairs": len(pos),
        "unsupported_pairs": len(neg),
        "supported_kept": round(float(np.mean(p >= best_t)), 3),
        "unsupported_flagged": round(float(np.mean(n < best_t)), 3),
    }


Prepared = list[tuple[EvalQuestion, list[Candidate], list[str]]]


def _measure(params: ExtractiveParams, part: Prepared) -> dict[str, float]:
    """Answer F1, gold-span containment and gold citation of extractive answers under params."""
    f1 = contains = cited = 0.0
    for q, found, sources in part:
        chosen = choose(found, params)
        text = strip_markers(render(chosen))
        f1 += max(token_f1(text, g) for g in q.answers)
        contains += any(contains_answer(text, g) for g in q.answers)
        cited += any(matches_gold(sources[c.n - 1], q.gold) for c in chosen)
    n = max(1, len(part))
    return {"answer_f1": f1 / n, "contains_gold": contains / n, "citation@k": cited / n}


def extractive_grid(container: Any, questions: list[EvalQuestion]) -> dict[str, Any]:
    """Tune the sentence-score weights on even questions, check them on odd ones."""
    cache = container.assistant.vectors
    prepared: Prepared = []
    for q in questions:
        passages = container.retriever.retrieve(q.question, top_k=5)
        found = candidates(q.question, passages, cache)
        prepared.append((q, found, [p.chunk.source for p in passages]))
    tune, check = prepared[0::2], prepared[1::2]
    default = ExtractiveParams()
    results = []
    for ow, rw, dw, ratio in itertools.product(
        (0.0, 0.25, 0.5, 1.0), (0.0, 0.1, 0.3), (0.0, 0.1, 0.3), (0.9, 0.95, 1.01)
    ):
        params = replace(
            default, overlap_weight=ow, rank_weight=rw, document_weight=dw, second_ratio=ratio
        )
        m = _measure(params, tune)
        results.append((m["answer_f1"] + m["contains_gold"] + m["citation@k"], params, m))
    results.sort(key=lambda r: r[0], reverse=True)
    _, best, tuned = results[0]
    return {
        "best": asdict(best),
        "tune_half": {k: round(v, 4) for k, v in tuned.items()},
        "check_half": {k: round(v, 4) for k, v in _measure(best, check).items()},
        "default_on_tune_half": {k: round(v, 4) for k, v in _measure(default, tune).items()},
        "default_on_check_half": {k: round(v, 4) for k, v in _measure(default, check).items()},
        "top5": [{"params": asdict(p), "tune": m} for _, p, m in results[:5]],
        "questions": {"tune": len(tune), "check": len(check)},
    }


def main() -> int:
    """Run the three calibrations and print/write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--every", type=int, default=2, help="use every N-th COVID-QA question")
    args = parser.parse_args()
    covid_corpus = args.data / "covidqa" / "corpus.jsonl"
    covid_questions = args.data / "covidqa" / "questions-dev.jsonl"
    sec_corpus = args.data / "enterprise" / "sec-10-q"
    sec_questions = args.data / "enterprise" / "sec-10-q-qna.csv"
    missing = [
        p for p in (covid_corpus, covid_questions, sec_corpus, sec_questions) if not p.exists()
    ]
    if missing:
        print(f"evaluation data not found: {', '.join(map(str, missing))}", file=sys.stderr)
        print("pass --data (default ../shared/data; see its README)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    covid_all = load_questions(covid_questions)
    covid = covid_all[:: args.every]
    sets = {
        "covidqa": (open_index(covid_corpus, None).container, covid),
        "sec-10-q": (open_index(sec_corpus, None).container, load_questions(sec_questions)),
        "examples": (
            open_index(ROOT / "examples" / "docs", None).container,
            load_questions(ROOT / "examples" / "questions.jsonl"),
        ),
    }
    covid_container = sets["covidqa"][0]
    report = {
        "relevance": relevance_matrix(sets),
        "support": support_threshold(covid_container, covid),
        "extractive": extractive_grid(covid_container, covid),
        "covid_questions_used": len(covid),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = ROOT / "benchmarks" / "results" / "calibrate_answers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
